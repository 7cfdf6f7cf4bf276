package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/dynblock"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The endpoint parses with this path (command/agent/job_endpoint.go).
const fileName = "input.hcl"

var topSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variables"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "job", LabelNames: []string{"name"}},
	},
}

// jobConfig holds one parse: the sources, variables, locals and what the
// job decode collects.
type jobConfig struct {
	schema  *Schema
	varFile *hcl.File

	vars      []*variable
	varByName map[string]*variable
	locals    map[string]cty.Value
	localDefs []localDef

	// runtime references rewritten to a lookup (runtime_refs.go)
	runtime map[string]cty.Value
	// syntax bodies by start byte, to list a free-form block's items (freeform.go)
	raw map[int]*hclsyntax.Body

	functions map[string]function.Function
	deferred  []func() hcl.Diagnostics
	jobLabel  string
	jobBody   *Node
}

type localDef struct {
	name string
	expr hcl.Expression
}

// parseJob evaluates a job file as jobspec2 does for the parse endpoint, and
// returns the evaluated job block, or the error text Nomad prints after
// "Failed to parse job: ".
func parseJob(schema *Schema, src, varSrc []byte) (*Tree, string) {
	file, diags := parseHCLOrJSON(src)
	if diags.HasErrors() {
		return nil, diags.Error()
	}
	c := &jobConfig{
		schema:    schema,
		varByName: map[string]*variable{},
		locals:    map[string]cty.Value{},
		runtime:   map[string]cty.Value{},
		raw:       map[int]*hclsyntax.Body{},
		functions: functions(),
	}
	if len(varSrc) > 0 {
		vf, vdiags := parseHCLOrJSON(varSrc)
		if vf == nil || vdiags.HasErrors() {
			return nil, "unable to parse var content: " + vdiags.Error()
		}
		c.varFile = vf
		diags = append(diags, vdiags...)
	}
	if body, ok := file.Body.(*hclsyntax.Body); ok {
		c.indexBodies(body)
		rewriteRuntimeRefs(body, src, c.runtime)
	}

	diags = append(diags, c.decodeFile(file.Body)...)
	if diags.HasErrors() {
		lines := make([]string, len(diags))
		for i, d := range diags {
			lines[i] = d.Error()
		}
		return nil, strings.Join(lines, "\n")
	}

	// Free-form maps (task config, ...) are evaluated last, and only when
	// everything else decoded (jobspec2's decodeMapInterfaceType).
	var mdiags hcl.Diagnostics
	for _, f := range c.deferred {
		mdiags = append(mdiags, f()...)
	}
	if mdiags.HasErrors() {
		return nil, mdiags.Error()
	}
	return &Tree{Label: c.jobLabel, Body: c.jobBody}, ""
}

// parseHCLOrJSON picks HCL-JSON when the first non-space byte is `{`. Only the
// space character is skipped, as jobspec2 does.
func parseHCLOrJSON(src []byte) (*hcl.File, hcl.Diagnostics) {
	for _, ch := range src {
		if ch == ' ' {
			continue
		}
		if ch == '{' {
			return hcljson.Parse(src, fileName)
		}
		break
	}
	return hclsyntax.ParseConfig(src, fileName, hcl.Pos{Line: 1, Column: 1})
}

func (c *jobConfig) decodeFile(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(topSchema)
	if len(diags) != 0 {
		return diags
	}
	diags = append(diags, c.decodeInputVariables(content)...)
	diags = append(diags, c.collectLocals(content)...)
	diags = append(diags, c.collectVarFileValues()...)
	diags = append(diags, c.variableValueDiags()...)
	diags = append(diags, c.evaluateLocals()...)
	diags = append(diags, c.decodeJob(content, c.evalContext())...)
	return diags
}

func (c *jobConfig) collectLocals(content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, block := range content.Blocks {
		if block.Type != "locals" {
			continue
		}
		attrs, moreDiags := block.Body.JustAttributes()
		diags = append(diags, moreDiags...)
		for _, attr := range sortedAttrs(attrs) {
			if seen[attr.Name] {
				return append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate value in locals",
					Detail:   "Duplicate " + attr.Name + " definition found.",
					Subject:  attr.NameRange.Ptr(),
					Context:  block.DefRange.Ptr(),
				})
			}
			seen[attr.Name] = true
			c.localDefs = append(c.localDefs, localDef{name: attr.Name, expr: attr.Expr})
		}
	}
	return diags
}

// evaluateLocals evaluates locals in dependency order the way jobspec2 does:
// a local that fails goes to the back of the queue, and 100 rounds without
// progress (a cycle) report its errors.
func (c *jobConfig) evaluateLocals() hcl.Diagnostics {
	var diags hcl.Diagnostics
	queue := append([]localDef(nil), c.localDefs...)
	retry, previous := 0, 0
	for len(queue) > 0 {
		l := queue[0]
		val, moreDiags := l.expr.Value(c.evalContext())
		if moreDiags.HasErrors() {
			if len(queue) == 1 {
				return append(diags, moreDiags...)
			}
			if previous == len(queue) {
				if retry == 100 {
					return append(diags, moreDiags...)
				}
				retry++
			}
			previous = len(queue)
			queue = append(queue, l)
		} else {
			retry = 0
			diags = append(diags, moreDiags...)
			c.locals[l.name] = val
		}
		queue = queue[1:]
	}
	return diags
}

func (c *jobConfig) evalContext() *hcl.EvalContext {
	vars := map[string]cty.Value{}
	for _, v := range c.vars {
		vars[v.name] = v.currentValue()
	}
	variables := map[string]cty.Value{
		"var":   cty.ObjectVal(vars),
		"local": cty.ObjectVal(c.locals),
	}
	if len(c.runtime) > 0 {
		variables[runtimeRoot] = cty.MapVal(c.runtime)
	}
	return &hcl.EvalContext{Variables: variables, Functions: c.functions}
}

func (c *jobConfig) decodeJob(content *hcl.BodyContent, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	var found *hcl.Block
	for _, b := range content.Blocks {
		if b.Type != "job" {
			continue
		}
		if found != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate job block",
				Detail:   fmt.Sprintf("Only one block of type %q is allowed. Previous definition was at %s.", b.Type, found.DefRange.String()),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		found = b
		c.jobLabel = b.Labels[0]
		body := dynblock.Expand(b.Body, ctx)
		node, moreDiags := c.decodeBody(body, ctx, c.schema.Bodies[c.schema.Root])
		c.jobBody = node
		diags = append(diags, moreDiags...)
	}
	if found == nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing job block",
			Detail:   "A job block is required",
		})
	}
	return diags
}

// sortDiags orders diagnostics by source position. Content() reports
// unexpected arguments in Go map order; sim keeps them stable instead.
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		return a.Start.Byte < b.Start.Byte
	})
	return diags
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	list := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Range.Start.Byte < list[j].Range.Start.Byte })
	return list
}
