package convexlocal

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Argument validation of /api/query and /api/function. Before running a function the backend
// checks its arguments against the function's exportArgs() validator (model
// modules/function_validators.rs ArgsValidator::check_args, common schemas/validator.rs
// Validator::check_value) and fails the call, as a function error, with
// "ArgumentValidationError: <message>". The messages here are the backend's, values and
// validators printed the way it prints them.

// argsErrorPrefix starts the errorMessage of a call whose arguments fail validation.
const argsErrorPrefix = "ArgumentValidationError: "

// checkArgs validates the call's argument object against a function's exportArgs() JSON. It
// returns the backend's message, or "" when the arguments pass, the function declares no
// validator (`v.any()`), or they use an encoding this deployment does not decode (`$integer`,
// `$bytes`, `$float`), which then reaches the function unchecked.
func checkArgs(exported *string, args json.RawMessage) string {
	if exported == nil {
		return ""
	}
	var v validator
	if json.Unmarshal([]byte(*exported), &v) != nil || v.Type != "object" {
		return ""
	}
	var val any
	if json.Unmarshal(args, &val) != nil || hasEncodedValue(val) {
		return ""
	}
	if e := checkValue(v, val); e != nil {
		return e.Error()
	}
	return ""
}

// hasEncodedValue reports whether val holds an object with a `$` key: convex_encoded_json's
// int64, bytes and special floats.
func hasEncodedValue(val any) bool {
	switch x := val.(type) {
	case []any:
		for _, e := range x {
			if hasEncodedValue(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.HasPrefix(k, "$") || hasEncodedValue(e) {
				return true
			}
		}
	}
	return false
}

// Kinds of argument validation errors (the backend's ValidationError variants).
const (
	argNoMatch = iota
	argLiteral
	argMissing
	argExtra
	argMultiple
)

// argError is one validation failure, with the path from the argument object to the failing
// value kept innermost first, as the backend builds it.
type argError struct {
	kind   int
	value  any       // argNoMatch, argLiteral
	v      validator // argNoMatch, argLiteral: the validator the value failed
	field  string    // argMissing, argExtra
	object map[string]any
	objV   validator // the object's validator (argMissing, argExtra, argMultiple)
	errs   []*argError
	path   []string
}

func (e *argError) withContext(seg string) *argError {
	for _, c := range e.errs {
		c.withContext(seg)
	}
	e.path = append(e.path, seg)
	return e
}

func (e *argError) context() string {
	if len(e.path) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Path: ")
	for i := len(e.path) - 1; i >= 0; i-- {
		b.WriteString(e.path[i])
	}
	return b.String()
}

func (e *argError) Error() string {
	switch e.kind {
	case argLiteral:
		return fmt.Sprintf("`%s` does not match literal validator `%s`.%s", showValue(e.value), showValidator(e.v), e.context())
	case argMissing:
		return fmt.Sprintf("Object is missing the required field `%s`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n%s\nObject: %s\nValidator: %s",
			e.field, e.context(), showValue(e.object), showValidator(e.objV))
	case argExtra:
		return fmt.Sprintf("Object contains extra field `%s` that is not in the validator.\n%s\nObject: %s\nValidator: %s",
			e.field, e.context(), showValue(e.object), showValidator(e.objV))
	case argMultiple:
		var b strings.Builder
		b.WriteString("Object has multiple validation errors:\n")
		e.bullets(&b)
		fmt.Fprintf(&b, "Object: %s\nValidator: %s", showValue(e.object), showValidator(e.objV))
		return b.String()
	}
	return fmt.Sprintf("Value does not match validator.\n%s\nValue: %s\nValidator: %s", e.context(), showValue(e.value), showValidator(e.v))
}

func (e *argError) bullets(b *strings.Builder) {
	for _, c := range e.errs {
		if c.kind == argMultiple {
			c.bullets(b)
			continue
		}
		b.WriteString("- ")
		switch c.kind {
		case argLiteral:
			fmt.Fprintf(b, "`%s` does not match literal validator `%s`.", showValue(c.value), showValidator(c.v))
		case argMissing:
			fmt.Fprintf(b, "missing required field `%s`", c.field)
		case argExtra:
			fmt.Fprintf(b, "extra field `%s` that is not in the validator", c.field)
		default:
			fmt.Fprintf(b, "`%s` does not match validator `%s`", showValue(c.value), showValidator(c.v))
		}
		if p := c.context(); p != "" {
			b.WriteString(" " + p)
		}
		b.WriteString("\n")
	}
}

// checkValue is the backend's Validator::check_value for the values JSON arguments can hold
// (null, float64, boolean, string, array, object). This deployment has no tables, so no string
// is an ID of one.
func checkValue(v validator, val any) *argError {
	noMatch := &argError{kind: argNoMatch, value: val, v: v}
	switch v.Type {
	case "any":
		return nil
	case "literal":
		var lit any
		if json.Unmarshal(v.Value, &lit) != nil || !literalEqual(lit, val) {
			return &argError{kind: argLiteral, value: val, v: v}
		}
		return nil
	case "union":
		var members []validator
		if json.Unmarshal(v.Value, &members) != nil {
			return noMatch
		}
		if len(members) == 1 {
			return checkValue(members[0], val)
		}
		for _, m := range members {
			if checkValue(m, val) == nil {
				return nil
			}
		}
		return noMatch
	}
	switch x := val.(type) {
	case nil, float64, bool, string:
		if v.Type == scalarType(x) {
			return nil
		}
	case []any:
		var elem validator
		if v.Type == "array" && json.Unmarshal(v.Value, &elem) == nil {
			for i, e := range x {
				if err := checkValue(elem, e); err != nil {
					return err.withContext(fmt.Sprintf("[%d]", i))
				}
			}
			return nil
		}
	case map[string]any:
		switch v.Type {
		case "record":
			return checkRecord(v, x)
		case "object":
			return checkObject(v, x)
		}
	}
	return noMatch
}

// scalarType is the validator type that accepts a JSON scalar.
func scalarType(val any) string {
	switch val.(type) {
	case float64:
		return "number"
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return "null"
}

func checkRecord(v validator, obj map[string]any) *argError {
	if v.Keys == nil || v.Values == nil {
		return &argError{kind: argNoMatch, value: obj, v: v}
	}
	for _, k := range sortedKeys(obj) {
		if err := checkValue(*v.Keys, k); err != nil {
			return err.withContext(".keys()")
		}
		if err := checkValue(v.Values.FieldType, obj[k]); err != nil {
			return err.withContext(".values()")
		}
	}
	return nil
}

// checkObject checks the validator's fields in name order, then the object's extra fields; a
// single problem is reported as itself, several as one error listing them all (nested objects'
// problems flattened into it).
func checkObject(v validator, obj map[string]any) *argError {
	var fields map[string]objectField
	if json.Unmarshal(v.Value, &fields) != nil {
		return &argError{kind: argNoMatch, value: obj, v: v}
	}
	var errs []*argError
	for _, name := range sortedKeys(fields) {
		f := fields[name]
		val, ok := obj[name]
		switch {
		case ok:
			if err := checkValue(f.FieldType, val); err != nil {
				err.withContext("." + name)
				if err.kind == argMultiple {
					errs = append(errs, err.errs...)
				} else {
					errs = append(errs, err)
				}
			}
		case !f.Optional:
			errs = append(errs, &argError{kind: argMissing, field: name, object: obj, objV: v})
		}
	}
	for _, name := range sortedKeys(obj) {
		if _, ok := fields[name]; !ok {
			errs = append(errs, &argError{kind: argExtra, field: name, object: obj, objV: v})
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return &argError{kind: argMultiple, errs: errs, object: obj, objV: v}
}

func literalEqual(lit, val any) bool {
	switch l := lit.(type) {
	case float64:
		x, ok := val.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(l)
	case string, bool:
		return lit == val
	}
	return false // an int64 literal: JSON arguments hold no int64
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// showValue prints a value as the backend's ConvexValue Display does: floats as Rust's Debug
// (`1.0`), strings Rust-quoted, objects `{a: 1.0}` in field order.
func showValue(val any) string {
	switch x := val.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return rustFloat(x)
	case string:
		return rustQuote(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = showValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			parts = append(parts, k+": "+showValue(x[k]))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(val)
}

// showValidator prints a validator as the backend's Validator Display does (`v.object({a:
// v.optional(v.string())})`).
func showValidator(v validator) string {
	switch v.Type {
	case "id":
		return fmt.Sprintf("v.id(%q)", v.TableName)
	case "number":
		return "v.float64()"
	case "bigint":
		return "v.int64()"
	case "null", "boolean", "string", "bytes", "any":
		return "v." + v.Type + "()"
	case "literal":
		return "v.literal(" + showLiteral(v.Value) + ")"
	case "array":
		var elem validator
		_ = json.Unmarshal(v.Value, &elem)
		return "v.array(" + showValidator(elem) + ")"
	case "record":
		var keys validator
		var values objectField
		if v.Keys != nil {
			keys = *v.Keys
		}
		if v.Values != nil {
			values = *v.Values
		}
		return "v.record(" + showValidator(keys) + ", " + showValidator(values.FieldType) + ")"
	case "union":
		var members []validator
		_ = json.Unmarshal(v.Value, &members)
		parts := make([]string, len(members))
		for i, m := range members {
			parts[i] = showValidator(m)
		}
		return "v.union(" + strings.Join(parts, ", ") + ")"
	case "object":
		var fields map[string]objectField
		_ = json.Unmarshal(v.Value, &fields)
		parts := make([]string, 0, len(fields))
		for _, k := range sortedKeys(fields) {
			s := showValidator(fields[k].FieldType)
			if fields[k].Optional {
				s = "v.optional(" + s + ")"
			}
			parts = append(parts, k+": "+s)
		}
		return "v.object({" + strings.Join(parts, ", ") + "})"
	}
	return "v." + v.Type + "()"
}

// showLiteral prints a literal as the backend's LiteralValidator Display: JSON, int64 as
// `<bigint>`.
func showLiteral(raw json.RawMessage) string {
	var lit any
	if json.Unmarshal(raw, &lit) != nil {
		return string(raw)
	}
	switch x := lit.(type) {
	case float64:
		return rustFloat(x)
	case string, bool:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return "<bigint>"
}

// rustFloat formats f as Rust's `{:?}` does: shortest round-trip digits, always a fraction or
// an exponent (`1.0`, `0.5`, `1e16`, `1e-5`), `NaN`, `inf`.
func rustFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', -1, 64), "e")
		n, _ := strconv.Atoi(exp)
		return mant + "e" + strconv.Itoa(n)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// rustQuote quotes s as Rust's `{:?}` does for strings.
func rustQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0:
			b.WriteString(`\0`)
		default:
			if unicode.IsPrint(r) {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u{%x}`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
