package convexlocal

import (
	"encoding/json"
	"testing"
)

// TestCheckArgs: argument validation answers the backend's messages (common
// schemas/validator.rs ValidationError), values and validators printed as it prints them.
func TestCheckArgs(t *testing.T) {
	const (
		empty = `{"type":"object","value":{}}`
		name  = `{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false}}}`
		two   = `{"type":"object","value":{"name":{"fieldType":{"type":"string"},"optional":false},"count":{"fieldType":{"type":"number"},"optional":false}}}`
	)
	cases := []struct {
		name, validator, args, want string
	}{
		{"no validator", `{"type":"any"}`, `{"x":1}`, ""},
		{"empty args", empty, `{}`, ""},
		{"extra field", empty, `{"x":1}`,
			"Object contains extra field `x` that is not in the validator.\n\nObject: {x: 1.0}\nValidator: v.object({})"},
		{"missing field", name, `{}`,
			"Object is missing the required field `name`. Consider wrapping the field validator in `v.optional(...)` if this is expected.\n\nObject: {}\nValidator: v.object({name: v.string()})"},
		{"wrong type", name, `{"name":1.5}`, "Value does not match validator.\nPath: .name\nValue: 1.5\nValidator: v.string()"},
		{"optional field absent", `{"type":"object","value":{"n":{"fieldType":{"type":"number"},"optional":true}}}`, `{}`, ""},
		{"several problems", two, `{"name":1,"extra":true}`,
			"Object has multiple validation errors:\n- missing required field `count`\n- `1.0` does not match validator `v.string()` Path: .name\n- extra field `extra` that is not in the validator\n" +
				"Object: {extra: true, name: 1.0}\nValidator: v.object({count: v.float64(), name: v.string()})"},
		{"nested problems flattened", `{"type":"object","value":{"payload":{"fieldType":` + two + `,"optional":false}}}`, `{"payload":{"name":1,"count":"no"},"extra":null}`,
			"Object has multiple validation errors:\n- `\"no\"` does not match validator `v.float64()` Path: .payload.count\n- `1.0` does not match validator `v.string()` Path: .payload.name\n- extra field `extra` that is not in the validator\n" +
				"Object: {extra: null, payload: {count: \"no\", name: 1.0}}\nValidator: v.object({payload: v.object({count: v.float64(), name: v.string()})})"},
		{"first bad array element", `{"type":"object","value":{"items":{"fieldType":{"type":"array","value":{"type":"string"}},"optional":false}}}`, `{"items":["a",2,3]}`,
			"Value does not match validator.\nPath: .items[1]\nValue: 2.0\nValidator: v.string()"},
		{"literal", `{"type":"object","value":{"kind":{"fieldType":{"type":"literal","value":"a"},"optional":false}}}`, `{"kind":"b"}`,
			"`\"b\"` does not match literal validator `v.literal(\"a\")`.Path: .kind"},
		{"union", `{"type":"object","value":{"v":{"fieldType":{"type":"union","value":[{"type":"string"},{"type":"null"}]},"optional":false}}}`, `{"v":[true]}`,
			"Value does not match validator.\nPath: .v\nValue: [true]\nValidator: v.union(v.string(), v.null())"},
		{"union member matches", `{"type":"object","value":{"v":{"fieldType":{"type":"union","value":[{"type":"string"},{"type":"null"}]},"optional":false}}}`, `{"v":null}`, ""},
		{"record value", `{"type":"object","value":{"r":{"fieldType":{"type":"record","keys":{"type":"string"},"values":{"fieldType":{"type":"number"},"optional":false}},"optional":false}}}`, `{"r":{"a":1,"b":"x"}}`,
			"Value does not match validator.\nPath: .r.values()\nValue: \"x\"\nValidator: v.float64()"},
		// No table exists on this deployment, so no string is an ID.
		{"id", `{"type":"object","value":{"id":{"fieldType":{"type":"id","tableName":"documents"},"optional":false}}}`, `{"id":"abc"}`,
			"Value does not match validator.\nPath: .id\nValue: \"abc\"\nValidator: v.id(\"documents\")"},
		{"quoted string", name, `{"name":"a\"b\n","x":0}`,
			"Object contains extra field `x` that is not in the validator.\n\nObject: {name: \"a\\\"b\\n\", x: 0.0}\nValidator: v.object({name: v.string()})"},
		{"encoded int64 is not checked", empty, `{"n":{"$integer":"AQAAAAAAAAA="}}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.validator
			if got := checkArgs(&v, json.RawMessage(tc.args)); got != tc.want {
				t.Errorf("checkArgs(%s, %s) =\n%q\nwant\n%q", tc.validator, tc.args, got, tc.want)
			}
		})
	}
	if got := checkArgs(nil, json.RawMessage(`{"x":1}`)); got != "" {
		t.Errorf("no exported args: %q, want no error", got)
	}
}

func TestRustFloat(t *testing.T) {
	cases := map[float64]string{1: "1.0", 0.5: "0.5", -2: "-2.0", 1e15: "1000000000000000.0", 1e16: "1e16", 1.5e-5: "1.5e-5", 0.0001: "0.0001", 0: "0.0"}
	for f, want := range cases {
		if got := rustFloat(f); got != want {
			t.Errorf("rustFloat(%v) = %q, want %q", f, got, want)
		}
	}
}
