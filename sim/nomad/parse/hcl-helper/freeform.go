package main

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Free-form blocks (meta, env, task config, ...) have no schema. hcl.Body's
// JustAttributes would lose the iterator of an enclosing `dynamic` block, so
// the items are listed from the syntax tree and fetched with Content(), which
// dynblock answers with the iteration context attached.

func (c *jobConfig) indexBodies(b *hclsyntax.Body) {
	c.raw[b.SrcRange.Start.Byte] = b
	for _, block := range b.Blocks {
		c.indexBodies(block.Body)
	}
}

// rawBody finds the syntax body behind a (possibly dynblock-wrapped) body;
// nil for HCL-JSON.
func (c *jobConfig) rawBody(b hcl.Body) *hclsyntax.Body {
	if sb, ok := b.(*hclsyntax.Body); ok {
		return sb
	}
	return c.raw[b.MissingItemRange().Start.Byte]
}

type bodyItems struct {
	attrs   hcl.Attributes
	blocks  hcl.Blocks
	dynamic []*hclsyntax.Block
	native  bool // HCL native syntax (not HCL-JSON)
}

func (c *jobConfig) items(b hcl.Body) (*bodyItems, hcl.Diagnostics) {
	raw := c.rawBody(b)
	if raw == nil {
		attrs, diags := b.JustAttributes()
		return &bodyItems{attrs: attrs}, diags
	}
	schema := &hcl.BodySchema{}
	for name := range raw.Attributes {
		schema.Attributes = append(schema.Attributes, hcl.AttributeSchema{Name: name})
	}
	seen := map[string]bool{}
	var dynamic []*hclsyntax.Block
	for _, block := range raw.Blocks {
		if block.Type == "dynamic" {
			dynamic = append(dynamic, block)
			continue
		}
		if !seen[block.Type] {
			seen[block.Type] = true
			schema.Blocks = append(schema.Blocks, hcl.BlockHeaderSchema{Type: block.Type, LabelNames: make([]string, len(block.Labels))})
		}
	}
	content, _, diags := b.PartialContent(schema)
	return &bodyItems{attrs: content.Attributes, blocks: content.Blocks, dynamic: dynamic, native: true}, diags
}

// stringMap decodes a block whose attributes form a map of strings (or of
// string lists), converting each value as gohcl does (`1` -> "1").
func (c *jobConfig) stringMap(b hcl.Body, ctx *hcl.EvalContext, lists bool) (interface{}, hcl.Diagnostics) {
	it, diags := c.items(b)
	strs := map[string]string{}
	strLists := map[string][]string{}
	for _, attr := range sortedAttrs(it.attrs) {
		if lists {
			var v []string
			diags = append(diags, gohcl.DecodeExpression(attr.Expr, ctx, &v)...)
			strLists[attr.Name] = v
		} else {
			var v string
			diags = append(diags, gohcl.DecodeExpression(attr.Expr, ctx, &v)...)
			strs[attr.Name] = v
		}
	}
	// jobspec2 turns nested blocks into list-of-object attributes here too,
	// which then fail the conversion to string.
	detail := "Unsuitable value: string required"
	if lists {
		detail = "Unsuitable value: element 0: string required"
	}
	for _, block := range it.blocks {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsuitable value type", Detail: detail, Subject: block.DefRange.Ptr()})
	}
	for _, block := range it.dynamic {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsuitable value type", Detail: detail, Subject: block.OpenBraceRange.Ptr()})
	}
	if lists {
		return strLists, diags
	}
	return strs, diags
}

// anyMap evaluates a free-form map with jobspec2's HCL1-compatible rules:
// nested blocks become lists of objects (labels become nested keys), and an
// attribute written as an object literal is wrapped in a one-element list.
func (c *jobConfig) anyMap(b hcl.Body, ctx *hcl.EvalContext) (map[string]interface{}, hcl.Diagnostics) {
	it, diags := c.items(b)
	out := map[string]interface{}{}
	for _, attr := range sortedAttrs(it.attrs) {
		val, moreDiags := attr.Expr.Value(ctx)
		diags = append(diags, moreDiags...)
		v, err := interfaceFromCty(val)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "unsuitable value type",
				Detail:   fmt.Sprintf("Unsuitable value: %s", err.Error()),
				Subject:  attr.Expr.StartRange().Ptr(),
				Context:  attr.Expr.Range().Ptr(),
			})
			continue
		}
		if _, isObject := hcl.UnwrapExpression(attr.Expr).(*hclsyntax.ObjectConsExpr); isObject && it.native {
			v = []interface{}{v}
		}
		out[attr.Name] = v
	}
	for _, block := range it.blocks {
		obj, moreDiags := c.anyMap(block.Body, ctx)
		diags = append(diags, moreDiags...)
		var v interface{} = obj
		for i := len(block.Labels) - 1; i >= 0; i-- {
			v = map[string]interface{}{block.Labels[i]: []interface{}{v}}
		}
		list, _ := out[block.Type].([]interface{})
		out[block.Type] = append(list, v)
	}
	for _, block := range it.dynamic {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported block type",
			Detail:   "sim's jobspec parser does not take a \"dynamic\" block inside a free-form block (Nomad keeps it as a literal \"dynamic\" key); move the dynamic block up, around the block that holds this map.",
			Subject:  block.TypeRange.Ptr(),
		})
	}
	return out, diags
}

// interfaceFromCty converts a value to plain JSON data as jobspec2 does:
// whole numbers become integers, other numbers floats.
func interfaceFromCty(val cty.Value) (interface{}, error) {
	if val.IsNull() {
		return nil, nil
	}
	if !val.IsKnown() {
		return nil, fmt.Errorf("value is not known")
	}
	t := val.Type()
	switch {
	case t == cty.String:
		return val.AsString(), nil
	case t == cty.Bool:
		return val.True(), nil
	case t == cty.Number:
		bf := val.AsBigFloat()
		if bf.IsInf() {
			return nil, fmt.Errorf("infinity cannot be written as JSON")
		}
		if i, acc := bf.Int64(); acc == big.Exact {
			return i, nil
		}
		f, _ := bf.Float64()
		return f, nil
	case t.IsListType() || t.IsSetType() || t.IsTupleType():
		out := []interface{}{}
		for it := val.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			v, err := interfaceFromCty(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case t.IsMapType() || t.IsObjectType():
		out := map[string]interface{}{}
		for it := val.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			v, err := interfaceFromCty(ev)
			if err != nil {
				return nil, err
			}
			out[k.AsString()] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot serialize %s", t.FriendlyName())
}
