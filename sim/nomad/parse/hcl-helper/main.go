// Command hcl-helper evaluates Nomad job files with HashiCorp's own hcl/v2,
// for sim's `POST /v1/jobs/parse` (sim/nomad/parse/parser.ts).
//
// It is a long-lived child process speaking one JSON object per line:
//
//	{"id":0,"op":"schema","schema":{...}}      -> {"id":0,"ok":true}
//	{"id":1,"op":"parse","job":"...","vars":""} -> {"id":1,"ok":true,"tree":{...}}
//	                                             | {"id":1,"ok":false,"error":"..."}
//
// The schema (which blocks and attributes a job has, their types and labels)
// comes from TypeScript, which also maps the evaluated tree to Nomad's API
// JSON; this program only does what needs hcl/v2: parsing, variables,
// locals, functions, dynamic blocks, templates, type conversion and the
// diagnostics Nomad prints.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
)

type request struct {
	ID     int64   `json:"id"`
	Op     string  `json:"op"`
	Schema *Schema `json:"schema,omitempty"`
	Job    string  `json:"job"`
	Vars   string  `json:"vars"`
}

type response struct {
	ID    int64  `json:"id"`
	OK    bool   `json:"ok"`
	Tree  *Tree  `json:"tree,omitempty"`
	Error string `json:"error,omitempty"`
	// Internal is set when the helper itself failed (a bug, not a job error).
	Internal bool `json:"internal,omitempty"`
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	var schema *Schema
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp = response{ID: -1, Error: "bad request line: " + jerr.Error(), Internal: true}
			} else {
				resp = handle(&req, &schema)
			}
			if werr := out.Encode(&resp); werr != nil {
				os.Exit(1)
			}
		}
		if err != nil {
			return // stdin closed: the parent is done with us
		}
	}
}

func handle(req *request, schema **Schema) (resp response) {
	resp.ID = req.ID
	defer func() {
		if r := recover(); r != nil {
			resp = response{ID: req.ID, Internal: true, Error: fmt.Sprintf("hcl-helper panic: %v\n%s", r, debug.Stack())}
		}
	}()
	switch req.Op {
	case "schema":
		if req.Schema == nil || req.Schema.Bodies[req.Schema.Root] == nil {
			return response{ID: req.ID, Internal: true, Error: "schema without its root body"}
		}
		*schema = req.Schema
		resp.OK = true
	case "parse":
		if *schema == nil {
			return response{ID: req.ID, Internal: true, Error: "parse before schema"}
		}
		tree, errText := parseJob(*schema, []byte(req.Job), []byte(req.Vars))
		if errText != "" {
			resp.Error = errText
		} else {
			resp.OK = true
			resp.Tree = tree
		}
	default:
		resp.Internal = true
		resp.Error = "unknown op " + req.Op
	}
	return resp
}
