package main

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Nomad's hcl fork lets jobspec2 answer a reference whose root name is not
// defined (`${node.unique.name}`, `${attr.kernel.name}`, `${NOMAD_ALLOC_ID}`,
// `meta.rack`) with its own source text wrapped in `${...}`, so the client
// interpolates it at run time. Upstream hcl/v2 has no such hook, so before
// evaluation every such traversal is rewritten in place into a lookup of
// that text in a map only the evaluation context holds. Which roots are
// defined is lexical: var, local, the iterators of enclosing `dynamic`
// blocks and the symbols of enclosing `for` expressions.

const runtimeRoot = "__sim_nomad_runtime_ref"

// rewriteRuntimeRefs rewrites the runtime references of the `locals` and
// `job` blocks (variable defaults and type expressions are left alone: they
// are evaluated without context, or are not expressions at all).
func rewriteRuntimeRefs(file *hclsyntax.Body, src []byte, refs map[string]cty.Value) {
	r := &refRewriter{src: src, refs: refs}
	base := map[string]struct{}{"var": {}, "local": {}, runtimeRoot: {}}
	for _, block := range file.Blocks {
		if block.Type == "locals" || block.Type == "job" {
			r.body(block.Body, []map[string]struct{}{base})
		}
	}
}

type refRewriter struct {
	src  []byte
	refs map[string]cty.Value
}

func (r *refRewriter) body(b *hclsyntax.Body, scopes []map[string]struct{}) {
	for _, attr := range b.Attributes {
		r.expr(attr.Expr, scopes)
	}
	for _, block := range b.Blocks {
		if block.Type != "dynamic" || len(block.Labels) != 1 {
			r.body(block.Body, scopes)
			continue
		}
		// Inside a dynamic block the iterator is defined, except in
		// for_each; `iterator` itself names it and is no expression.
		iterator := block.Labels[0]
		if it, ok := block.Body.Attributes["iterator"]; ok {
			if t, diags := hcl.AbsTraversalForExpr(it.Expr); !diags.HasErrors() && len(t) == 1 {
				iterator = t.RootName()
			}
		}
		inner := append(append([]map[string]struct{}{}, scopes...), map[string]struct{}{iterator: {}})
		for name, attr := range block.Body.Attributes {
			switch name {
			case "iterator":
			case "for_each":
				r.expr(attr.Expr, scopes)
			default:
				r.expr(attr.Expr, inner)
			}
		}
		for _, nested := range block.Body.Blocks {
			r.body(nested.Body, inner)
		}
	}
}

func (r *refRewriter) expr(e hclsyntax.Expression, scopes []map[string]struct{}) {
	w := &refWalker{r: r, scopes: append([]map[string]struct{}{}, scopes...)}
	hclsyntax.Walk(e, w)
}

type refWalker struct {
	r      *refRewriter
	scopes []map[string]struct{}
}

func (w *refWalker) Enter(node hclsyntax.Node) hcl.Diagnostics {
	switch n := node.(type) {
	case hclsyntax.ChildScope:
		w.scopes = append(w.scopes, n.LocalNames)
	case *hclsyntax.ScopeTraversalExpr:
		if !w.defined(n.Traversal.RootName()) {
			w.r.rewrite(n)
		}
	}
	return nil
}

func (w *refWalker) Exit(node hclsyntax.Node) hcl.Diagnostics {
	if _, ok := node.(hclsyntax.ChildScope); ok {
		w.scopes = w.scopes[:len(w.scopes)-1]
	}
	return nil
}

func (w *refWalker) defined(name string) bool {
	for _, s := range w.scopes {
		if _, ok := s[name]; ok {
			return true
		}
	}
	return false
}

func (r *refRewriter) rewrite(n *hclsyntax.ScopeTraversalExpr) {
	text := r.text(n.SrcRange)
	r.refs[text] = cty.StringVal(text)
	rootRange := n.Traversal[0].SourceRange()
	n.Traversal = hcl.Traversal{
		hcl.TraverseRoot{Name: runtimeRoot, SrcRange: rootRange},
		hcl.TraverseIndex{Key: cty.StringVal(text), SrcRange: n.SrcRange},
	}
}

// text is the reference as written: the whole `${ ... }` when the reference
// is all the interpolation holds (its spacing kept), else `${` + text + `}`.
func (r *refRewriter) text(rng hcl.Range) string {
	start, end := rng.Start.Byte, rng.End.Byte
	ref := string(r.src[start:end])
	open := start
	for open > 0 && isSpace(r.src[open-1]) {
		open--
	}
	close := end
	for close < len(r.src) && isSpace(r.src[close]) {
		close++
	}
	if open >= 2 && r.src[open-2] == '$' && r.src[open-1] == '{' && close < len(r.src) && r.src[close] == '}' {
		return string(r.src[open-2 : close+1])
	}
	return "${" + ref + "}"
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r'
}
