package main

// Schema describes the blocks and attributes of a job body, as Nomad's api
// structs declare them with `hcl` tags. It is sent by the TypeScript side
// (sim/nomad/parse/schema.ts) once, when the helper starts.
type Schema struct {
	// Root names the body of the `job` block.
	Root   string               `json:"root"`
	Bodies map[string]*BodySpec `json:"bodies"`
}

// BodySpec is one struct: its attributes and nested blocks, by HCL name.
type BodySpec struct {
	Attrs  map[string]*AttrSpec  `json:"attrs"`
	Blocks map[string]*BlockSpec `json:"blocks"`
	// HCLDec: jobspec2 decodes this body with hcldec (constraint, affinity);
	// attribute types are then string, bool or number.
	HCLDec bool `json:"hcldec,omitempty"`
}

// AttrSpec is one attribute. Type is the Go field type of the api struct
// (string, bool, int, int8, uint8, uint16, int64, uint64, duration,
// list(string), list(uint16), map(string)); Ptr says whether the field is a
// pointer, which decides how a null value and a missing attribute behave.
type AttrSpec struct {
	Type     string `json:"type"`
	Ptr      bool   `json:"ptr"`
	Required bool   `json:"required"`
}

// BlockSpec is one nested block type.
//
// Kind:
//   - single: at most one block (a pointer field), decoded with Body
//   - list: repeated blocks (a slice field), decoded with Body
//   - stringmap: the block's attributes are a map of strings (meta, env)
//   - stringlistmap: the block's attributes are a map of string lists (check header)
//   - anymap: a free-form map (task config), evaluated last with HCL1 rules
//   - unsupported: sim does not implement this block; using it is an error
type BlockSpec struct {
	Kind   string   `json:"kind"`
	Body   string   `json:"body,omitempty"`
	Labels []string `json:"labels,omitempty"`
	// AttrForm also accepts `name = { ... }` (job/group/task meta, task env).
	AttrForm bool `json:"attrForm,omitempty"`
	// Dup "previous" words the duplicate-block error as jobspec2 does for
	// job-level blocks it decodes by hand (vault), instead of as gohcl does.
	Dup string `json:"dup,omitempty"`
	// Check names a jobspec2 validation run on these blocks (taskScaling,
	// groupScaling).
	Check string `json:"check,omitempty"`
}

// Tree is the evaluated job block: its label and body.
type Tree struct {
	Label string `json:"label"`
	Body  *Node  `json:"body"`
}

// Node is an evaluated body: attribute values converted to their field
// types (durations in nanoseconds), and the nested blocks in source order.
// An attribute set to null on a pointer field is left out, as gohcl leaves
// the field nil.
type Node struct {
	Attrs  map[string]interface{} `json:"attrs"`
	Blocks []*BlockNode           `json:"blocks"`
}

// BlockNode is one nested block: a body for struct blocks, a value for
// free-form maps.
type BlockNode struct {
	Type   string      `json:"type"`
	Labels []string    `json:"labels,omitempty"`
	Body   *Node       `json:"body,omitempty"`
	Value  interface{} `json:"value,omitempty"`
}
