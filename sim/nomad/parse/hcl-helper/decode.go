package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// decodeBody decodes one body against its spec the way gohcl decodes into
// Nomad's api structs: Content() for the schema errors (unsupported
// arguments, labels, required arguments), then each attribute converted to
// its Go field type, then the nested blocks.
func (c *jobConfig) decodeBody(body hcl.Body, ctx *hcl.EvalContext, spec *BodySpec) (*Node, hcl.Diagnostics) {
	node := &Node{Attrs: map[string]interface{}{}, Blocks: []*BlockNode{}}
	var diags hcl.Diagnostics

	for _, name := range sortedKeys(spec.Blocks) {
		if !spec.Blocks[name].AttrForm {
			continue
		}
		value, remain, found, moreDiags := decodeAsAttribute(body, ctx, name)
		diags = append(diags, moreDiags...)
		body = remain
		if found {
			node.Blocks = append(node.Blocks, &BlockNode{Type: name, Value: value})
		}
	}

	content, moreDiags := body.Content(bodySchema(spec))
	diags = append(diags, sortDiags(moreDiags)...)

	for _, attr := range sortedAttrs(content.Attributes) {
		value, set, attrDiags := decodeAttr(attr, ctx, spec.Attrs[attr.Name])
		diags = append(diags, attrDiags...)
		if set {
			node.Attrs[attr.Name] = value
		}
	}

	byType := content.Blocks.ByType()
	for _, block := range content.Blocks {
		bs := spec.Blocks[block.Type]
		same := byType[block.Type]
		if bs.Kind == "single" && len(same) > 1 {
			if block == same[1] {
				diags = append(diags, duplicateBlock(bs, same[0], same[1]))
			}
			continue
		}
		if bs.Check == "taskScaling" {
			continue // all of them at once, below
		}
		bn, moreDiags := c.decodeBlock(block, ctx, bs)
		diags = append(diags, moreDiags...)
		if bn != nil {
			node.Blocks = append(node.Blocks, bn)
		}
	}
	for _, name := range sortedKeys(spec.Blocks) {
		if bs := spec.Blocks[name]; bs.Check == "taskScaling" {
			bns, moreDiags := c.decodeTaskScaling(byType[name], ctx, bs)
			diags = append(diags, moreDiags...)
			node.Blocks = append(node.Blocks, bns...)
		}
	}
	return node, diags
}

func (c *jobConfig) decodeBlock(block *hcl.Block, ctx *hcl.EvalContext, bs *BlockSpec) (*BlockNode, hcl.Diagnostics) {
	bn := &BlockNode{Type: block.Type, Labels: block.Labels}
	switch bs.Kind {
	case "single", "list":
		sub := c.schema.Bodies[bs.Body]
		if sub == nil {
			panic("schema has no body " + bs.Body)
		}
		if sub.HCLDec {
			node, diags := decodeHCLDecBody(block.Body, ctx, sub)
			bn.Body = node
			return bn, diags
		}
		node, diags := c.decodeBody(block.Body, ctx, sub)
		bn.Body = node
		if bs.Check == "groupScaling" {
			diags = append(diags, checkGroupScaling(block, node)...)
		}
		return bn, diags
	case "stringmap", "stringlistmap":
		value, diags := c.stringMap(block.Body, ctx, bs.Kind == "stringlistmap")
		bn.Value = value
		return bn, diags
	case "anymap":
		bn.Value = map[string]interface{}{}
		body := block.Body
		c.deferred = append(c.deferred, func() hcl.Diagnostics {
			value, diags := c.anyMap(body, ctx)
			bn.Value = value
			return diags
		})
		return bn, nil
	case "unsupported":
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported block type",
			Detail:   fmt.Sprintf("Blocks of type %q are valid in Nomad but not supported by sim's jobspec parser (see sim/nomad/parse/README.md).", block.Type),
			Subject:  block.TypeRange.Ptr(),
		}}
	}
	panic("unknown block kind " + bs.Kind)
}

func duplicateBlock(bs *BlockSpec, first, second *hcl.Block) *hcl.Diagnostic {
	detail := fmt.Sprintf("Only one %s block is allowed. Another was defined at %s.", second.Type, first.DefRange.String())
	if bs.Dup == "previous" {
		detail = fmt.Sprintf("Only one block of type %q is allowed. Previous definition was at %s.", second.Type, first.DefRange.String())
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s block", second.Type),
		Detail:   detail,
		Subject:  second.DefRange.Ptr(),
	}
}

// decodeAsAttribute accepts `meta = { ... }` besides the `meta { }` block
// (jobspec2's decodeAsAttribute): keys that are not identifiers and `for`
// expressions only work in this form.
func decodeAsAttribute(body hcl.Body, ctx *hcl.EvalContext, name string) (map[string]string, hcl.Body, bool, hcl.Diagnostics) {
	content, remain, diags := body.PartialContent(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: name}}})
	attr := content.Attributes[name]
	if diags.HasErrors() || attr == nil {
		return nil, body, false, nil
	}
	blocks, _, _ := remain.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: name}}})
	if len(blocks.Blocks) != 0 {
		return nil, remain, false, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %v block", name),
			Detail:   fmt.Sprintf("%v may not be defined more than once. Another definition is defined at %s.", name, attr.Range.String()),
			Subject:  &blocks.Blocks[0].DefRange,
		}}
	}
	result := map[string]string{}
	diags = append(diags, gohcl.DecodeExpression(attr.Expr, ctx, &result)...)
	return result, remain, true, diags
}

var schemaCache = map[*BodySpec]*hcl.BodySchema{}

func bodySchema(spec *BodySpec) *hcl.BodySchema {
	if s, ok := schemaCache[spec]; ok {
		return s
	}
	s := &hcl.BodySchema{}
	for _, name := range sortedKeys(spec.Attrs) {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: name, Required: spec.Attrs[name].Required})
	}
	for _, name := range sortedKeys(spec.Blocks) {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: name, LabelNames: spec.Blocks[name].Labels})
	}
	schemaCache[spec] = s
	return s
}

// decodeAttr converts one attribute to its field type with gohcl's own
// conversion, so values and errors are what Nomad's decoder gives. It
// returns false when the field stays unset (a null on a pointer field).
func decodeAttr(attr *hcl.Attribute, ctx *hcl.EvalContext, spec *AttrSpec) (interface{}, bool, hcl.Diagnostics) {
	if spec.Type == "duration" {
		return decodeDuration(attr.Expr, ctx)
	}
	target := newTarget(spec)
	diags := gohcl.DecodeExpression(attr.Expr, ctx, target)
	v := reflect.ValueOf(target).Elem()
	if v.Kind() == reflect.Ptr {
		if v.IsNil() {
			return nil, false, diags
		}
		v = v.Elem()
	}
	if (v.Kind() == reflect.Slice || v.Kind() == reflect.Map) && v.IsNil() {
		return nil, false, diags
	}
	return v.Interface(), true, diags
}

var goTypes = map[string]reflect.Type{
	"string":       reflect.TypeOf(""),
	"bool":         reflect.TypeOf(false),
	"int":          reflect.TypeOf(int(0)),
	"int8":         reflect.TypeOf(int8(0)),
	"uint8":        reflect.TypeOf(uint8(0)),
	"uint16":       reflect.TypeOf(uint16(0)),
	"int64":        reflect.TypeOf(int64(0)),
	"uint64":       reflect.TypeOf(uint64(0)),
	"list(string)": reflect.TypeOf([]string(nil)),
	"list(uint16)": reflect.TypeOf([]uint16(nil)),
	"map(string)":  reflect.TypeOf(map[string]string(nil)),
}

func newTarget(spec *AttrSpec) interface{} {
	t, ok := goTypes[spec.Type]
	if !ok {
		panic("schema has unknown attribute type " + spec.Type)
	}
	if spec.Ptr {
		t = reflect.PtrTo(t)
	}
	return reflect.New(t).Interface()
}

// decodeDuration is jobspec2's duration decoder: a string goes through Go's
// time.ParseDuration, a number is nanoseconds.
func decodeDuration(expr hcl.Expression, ctx *hcl.EvalContext) (interface{}, bool, hcl.Diagnostics) {
	srcVal, diags := expr.Value(ctx)
	unsuitable := func(summary, detail string) (interface{}, bool, hcl.Diagnostics) {
		return nil, false, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  expr.StartRange().Ptr(),
			Context:  expr.Range().Ptr(),
		})
	}
	if srcVal.IsNull() {
		return unsuitable("Unsuitable value", "Unsuitable duration value: nil")
	}
	if !srcVal.IsKnown() {
		return unsuitable("Unsuitable value type", "Unsuitable value: value must be known")
	}
	if srcVal.Type() == cty.String {
		dur, err := time.ParseDuration(srcVal.AsString())
		if err != nil {
			return unsuitable("Unsuitable value type", fmt.Sprintf("Unsuitable duration value: %s", err.Error()))
		}
		srcVal = cty.NumberIntVal(int64(dur))
	}
	if srcVal.Type() != cty.Number {
		return unsuitable("Unsuitable value type", fmt.Sprintf("Unsuitable value: expected a string but found %s", srcVal.Type()))
	}
	var dur time.Duration
	if err := gocty.FromCtyValue(srcVal, &dur); err != nil {
		return unsuitable("Unsuitable value type", fmt.Sprintf("Unsuitable value: %s", err.Error()))
	}
	return int64(dur), true, diags
}

// decodeHCLDecBody decodes constraint and affinity bodies, which jobspec2
// reads with hcldec (other conversion errors than gohcl's, and nothing is
// decoded once anything fails).
func decodeHCLDecBody(body hcl.Body, ctx *hcl.EvalContext, spec *BodySpec) (*Node, hcl.Diagnostics) {
	node := &Node{Attrs: map[string]interface{}{}, Blocks: []*BlockNode{}}
	content, diags := body.Content(bodySchema(spec))
	for _, attr := range sortedAttrs(content.Attributes) {
		ty := map[string]cty.Type{"string": cty.String, "bool": cty.Bool, "number": cty.Number}[spec.Attrs[attr.Name].Type]
		val, moreDiags := attr.Expr.Value(ctx)
		diags = append(diags, moreDiags...)
		conv, err := convert.Convert(val, ty)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Incorrect attribute value type",
				Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, err.Error()),
				Subject:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		if conv.IsNull() || !conv.IsKnown() {
			continue
		}
		switch ty {
		case cty.String:
			node.Attrs[attr.Name] = conv.AsString()
		case cty.Bool:
			node.Attrs[attr.Name] = conv.True()
		default:
			// jobspec2 truncates the weight to an integer, then to int8
			// without a range check.
			i, _ := conv.AsBigFloat().Int64()
			node.Attrs[attr.Name] = int8(i)
		}
	}
	if len(diags) != 0 {
		return node, diags
	}
	return node, nil
}

// decodeTaskScaling is jobspec2's decodeTaskScalingPolicies: task scaling
// blocks are labelled "cpu" or "mem" (any case), once each.
func (c *jobConfig) decodeTaskScaling(blocks hcl.Blocks, ctx *hcl.EvalContext, bs *BlockSpec) ([]*BlockNode, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []*BlockNode
	seen := map[string]*hcl.Block{}
	for _, b := range blocks {
		label := strings.ToLower(b.Labels[0])
		policyType := map[string]string{"cpu": "vertical_cpu", "mem": "vertical_mem"}[label]
		if policyType == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid scaling policy name",
				Detail:   `scaling policy name must be "cpu" or "mem"`,
				Subject:  &b.LabelRanges[0],
			})
			continue
		}
		if prev, ok := seen[label]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate scaling %q block", label),
				Detail:   fmt.Sprintf("Only one scaling %s block is allowed. Another was defined at %s.", label, prev.DefRange.String()),
				Subject:  &b.DefRange,
			})
			continue
		}
		seen[label] = b
		node, moreDiags := c.decodeBody(b.Body, ctx, c.schema.Bodies[bs.Body])
		diags = append(diags, moreDiags...)
		typ, _ := node.Attrs["type"].(string)
		if typ == "" {
			node.Attrs["type"] = policyType
		} else if typ != policyType {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid scaling policy type",
				Detail:   fmt.Sprintf("Invalid policy type, expected %q but found %q", typ, policyType),
				Subject:  &b.DefRange,
			})
			continue
		}
		out = append(out, &BlockNode{Type: b.Type, Labels: b.Labels, Body: node})
	}
	return out, diags
}

// checkGroupScaling is jobspec2's validateGroupScalingPolicy: a group
// scaling block needs `max`, and its type can only be "horizontal".
func checkGroupScaling(block *hcl.Block, node *Node) hcl.Diagnostics {
	typ, _ := node.Attrs["type"].(string)
	if typ == "" {
		typ = "horizontal"
		node.Attrs["type"] = typ
	}
	if _, hasMax := node.Attrs["max"]; hasMax && typ == "horizontal" {
		return nil
	}
	pc, _, diags := block.Body.PartialContent(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "max", Required: true}, {Name: "type"}},
	})
	if attr, ok := pc.Attributes["type"]; ok && typ != "horizontal" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid group scaling type",
			Detail:   fmt.Sprintf("task group scaling policy had invalid type: %q", typ),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return diags
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
