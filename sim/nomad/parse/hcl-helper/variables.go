package main

import (
	"fmt"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Input variables as jobspec2/types.variables.go keeps them: every value a
// variable was given (default, then the Variables file), the last one wins.

type variable struct {
	name        string
	values      []assignment
	validations []*validation
	typ         cty.Type
	rng         hcl.Range
}

type assignment struct {
	from  string // default | varfile
	value cty.Value
	expr  hcl.Expression
}

type validation struct {
	condition    hcl.Expression
	errorMessage string
	declRange    hcl.Range
}

const badIdentifierDetail = "A name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes."

var variableBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}, {Name: "default"}, {Name: "type"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationBlockSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "condition", Required: true}, {Name: "error_message", Required: true}},
}

func (v *variable) currentValue() cty.Value {
	if len(v.values) == 0 {
		if v.typ == cty.NilType {
			return cty.DynamicVal
		}
		return cty.UnknownVal(v.typ)
	}
	return v.values[len(v.values)-1].value
}

func (c *jobConfig) addVariable(v *variable) {
	c.vars = append(c.vars, v)
	c.varByName[v.name] = v
}

func (c *jobConfig) decodeInputVariables(content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, block := range content.Blocks {
		switch block.Type {
		case "variable":
			diags = append(diags, c.decodeVariableBlock(block)...)
		case "variables":
			attrs, moreDiags := block.Body.JustAttributes()
			diags = append(diags, moreDiags...)
			for _, attr := range sortedAttrs(attrs) {
				diags = append(diags, c.decodeVariableAttr(attr)...)
			}
		}
	}
	return diags
}

// decodeVariableAttr is one `name = value` line of a `variables` block; the
// value is a constant (evaluated without context).
func (c *jobConfig) decodeVariableAttr(attr *hcl.Attribute) hcl.Diagnostics {
	if _, found := c.varByName[attr.Name]; found {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate variable",
			Detail:   "Duplicate " + attr.Name + " variable definition found.",
			Subject:  attr.NameRange.Ptr(),
		}}
	}
	value, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	c.addVariable(&variable{
		name:   attr.Name,
		values: []assignment{{from: "default", value: value, expr: attr.Expr}},
		typ:    value.Type(),
		rng:    attr.Range,
	})
	return diags
}

func (c *jobConfig) decodeVariableBlock(block *hcl.Block) hcl.Diagnostics {
	name := block.Labels[0]
	if _, found := c.varByName[name]; found {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate variable",
			Detail:   "Duplicate " + name + " variable definition found.",
			Context:  block.DefRange.Ptr(),
		}}
	}
	content, diags := block.Body.Content(variableBlockSchema)
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   badIdentifierDetail,
			Subject:  &block.LabelRanges[0],
		})
	}
	v := &variable{name: name, rng: block.DefRange}
	if attr, ok := content.Attributes["description"]; ok {
		var description string
		diags = append(diags, gohcl.DecodeExpression(attr.Expr, nil, &description)...)
	}
	if attr, ok := content.Attributes["type"]; ok {
		ty, moreDiags := typeexpr.Type(attr.Expr)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			return diags
		}
		v.typ = ty
	}
	if def, ok := content.Attributes["default"]; ok {
		value, moreDiags := def.Expr.Value(nil)
		diags = append(diags, moreDiags...)
		if moreDiags.HasErrors() {
			return diags
		}
		if v.typ != cty.NilType {
			converted, err := convert.Convert(value, v.typ)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err),
					Subject:  def.Expr.Range().Ptr(),
				})
				converted = cty.DynamicVal
			}
			value = converted
		}
		v.values = append(v.values, assignment{from: "default", value: value, expr: def.Expr})
		if v.typ == cty.NilType {
			v.typ = value.Type()
		}
	}
	for _, vb := range content.Blocks {
		vv, moreDiags := decodeValidationBlock(name, vb)
		diags = append(diags, moreDiags...)
		v.validations = append(v.validations, vv)
	}
	c.addVariable(v)
	return diags
}

func decodeValidationBlock(varName string, block *hcl.Block) (*validation, hcl.Diagnostics) {
	vv := &validation{declRange: block.DefRange}
	content, diags := block.Body.Content(validationBlockSchema)
	if attr, ok := content.Attributes["condition"]; ok {
		vv.condition = attr.Expr
		goodRefs := 0
		for _, traversal := range attr.Expr.Variables() {
			if refersTo(traversal, varName) {
				goodRefs++
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in variable validation",
				Detail:   fmt.Sprintf("The condition for variable %q can only refer to the variable itself, using var.%s.", varName, varName),
				Subject:  traversal.SourceRange().Ptr(),
			})
		}
		if goodRefs < 1 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation condition",
				Detail:   fmt.Sprintf("The condition for variable %q must refer to var.%s in order to test incoming values.", varName, varName),
				Subject:  attr.Expr.Range().Ptr(),
			})
		}
	}
	if attr, ok := content.Attributes["error_message"]; ok {
		moreDiags := gohcl.DecodeExpression(attr.Expr, nil, &vv.errorMessage)
		diags = append(diags, moreDiags...)
		if !moreDiags.HasErrors() {
			switch {
			case vv.errorMessage == "":
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid validation error message",
					Detail:   "An empty string is not a valid nor useful error message.",
					Subject:  attr.Expr.Range().Ptr(),
				})
			case !looksLikeSentences(vv.errorMessage):
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid validation error message",
					Detail:   "Validation error message must be at least one full sentence starting with an uppercase letter ( if the alphabet permits it ) and ending with a period or question mark.",
					Subject:  attr.Expr.Range().Ptr(),
				})
			}
		}
	}
	return vv, diags
}

func refersTo(t hcl.Traversal, varName string) bool {
	if len(t) < 2 || t.RootName() != "var" {
		return false
	}
	attr, ok := t[1].(hcl.TraverseAttr)
	return ok && attr.Name == varName
}

func looksLikeSentences(s string) bool {
	runes := []rune(s)
	if len(runes) == 0 {
		return false
	}
	first, last := runes[0], runes[len(runes)-1]
	if unicode.IsLetter(first) && !unicode.IsUpper(first) {
		return false
	}
	return last == '.' || last == '?' || last == '!'
}

// collectVarFileValues reads the request's Variables text. Names that no
// `variable` declares are warnings: the endpoint parses with Strict off.
func (c *jobConfig) collectVarFileValues() hcl.Diagnostics {
	if c.varFile == nil {
		return nil
	}
	var diags hcl.Diagnostics
	probe, _, _ := c.varFile.Body.PartialContent(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}},
	})
	for _, block := range probe.Blocks {
		name := block.Labels[0]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Variable declaration in a .var file",
			Detail: fmt.Sprintf("A .var file is used to assign values to variables that have already been declared in job files, not to declare new variables. To declare variable %q, place this block in one of your job files\n\nTo set a value for this variable in %s, use the definition syntax instead:\n    %s = <value>",
				name, block.TypeRange.Filename, name),
			Subject: &block.TypeRange,
		})
	}
	if diags.HasErrors() {
		return diags
	}
	attrs, moreDiags := c.varFile.Body.JustAttributes()
	diags = append(diags, moreDiags...)
	for _, attr := range sortedAttrs(attrs) {
		v, found := c.varByName[attr.Name]
		if !found {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Undefined variable",
				Detail:   fmt.Sprintf("A %q variable was set but was not found in known variables. To declare variable %q, place this block in your job files", attr.Name, attr.Name),
				Context:  attr.Range.Ptr(),
			})
			continue
		}
		val, valDiags := attr.Expr.Value(nil)
		diags = append(diags, valDiags...)
		if v.typ != cty.NilType {
			converted, err := convert.Convert(val, v.typ)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid value for variable",
					Detail:   fmt.Sprintf("The value for %s is not compatible with the variable's type constraint: %s.", attr.Name, err),
					Subject:  attr.Expr.Range().Ptr(),
				})
				converted = cty.DynamicVal
			}
			val = converted
		}
		v.values = append(v.values, assignment{from: "varfile", value: val, expr: attr.Expr})
	}
	return diags
}

// variableValueDiags reports unset variables (declared without a default and
// given no value; an error even when nothing uses them) and failed
// validations, in declaration order.
func (c *jobConfig) variableValueDiags() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, v := range c.vars {
		if len(v.values) == 0 {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Unset variable %q", v.name),
				Detail:   "A used variable must be set or have a default value; see https://developer.hashicorp.com/nomad/docs/reference/hcl2/variables  for details.",
				Context:  v.rng.Ptr(),
			})
			continue
		}
		diags = append(diags, c.validate(v, v.values[len(v.values)-1])...)
	}
	return diags
}

func (c *jobConfig) validate(v *variable, val assignment) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if len(v.validations) == 0 {
		return nil
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{v.name: val.value})},
		Functions: c.functions,
	}
	for _, rule := range v.validations {
		if rule.condition == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation specification",
				Detail:   "validation requires a condition.",
				Subject:  rule.declRange.Ptr(),
			})
			continue
		}
		result, moreDiags := rule.condition.Value(ctx)
		diags = append(diags, moreDiags...)
		if !result.IsKnown() {
			continue
		}
		if result.IsNull() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation result",
				Detail:   "Validation condition expression must return either true or false, not null.",
				Subject:  rule.condition.Range().Ptr(),
			})
			continue
		}
		result, err := convert.Convert(result, cty.Bool)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid variable validation result",
				Detail:   fmt.Sprintf("Invalid validation condition result value: %s.", err),
				Subject:  rule.condition.Range().Ptr(),
			})
			continue
		}
		if result.False() {
			subject := rule.declRange.Ptr()
			if val.expr != nil {
				subject = val.expr.Range().Ptr()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid value for %s variable", val.from),
				Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", rule.errorMessage, rule.declRange.String()),
				Subject:  subject,
			})
		}
	}
	return diags
}
