package bundle_test

import (
	"encoding/json"
	"fmt"
	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSchemaExport evaluates schema.ts with the pinned convex (as the backend evaluates the pushed
// schema module) and keeps schema.json, which ExpectedSchema serves, equal to it. A table or
// index change shows up as a diff of this golden file.
func TestSchemaExport(t *testing.T) {
	dir := materialized(t)
	copyFile(t, "testdata/eval.mjs", dir+"/eval.mjs")
	golden(t, "schema.json", mustNode(t, dir, "eval.mjs", "schema"))
}

// wantTables are the nine tables of the BYOD spec, in declaration order.
var wantTables = []string{
	"conversations", "messages", "memories", "files", "projects",
	"notes", "tasks", "bookmarks", "usageRecords",
}

// identifier is the backend's rule for table and index names (docs/convex-protocol.md, "Schema rules").
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// TestSchemaRules checks the embedded schema against the rules the Convex backend enforces on a
// push (docs/convex-protocol.md, "Schema rules") and the package's own: nine tables, schema validation on, every vector
// index 1536-dimensional over an (optional) array of float64.
func TestSchemaRules(t *testing.T) {
	s, err := bundle.ExpectedSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !s.SchemaValidation {
		t.Error("schemaValidation is off")
	}
	var names []string
	for _, tb := range s.Tables {
		names = append(names, tb.TableName)
	}
	if !slices.Equal(names, wantTables) {
		t.Fatalf("tables = %q, want %q", names, wantTables)
	}
	for _, tb := range s.Tables {
		t.Run(tb.TableName, func(t *testing.T) {
			for _, problem := range tableProblems(t, tb) {
				t.Error(problem)
			}
		})
	}
}

// TestSchemaRulesCatchViolations proves tableProblems is not a check that cannot fail.
func TestSchemaRulesCatchViolations(t *testing.T) {
	doc := json.RawMessage(`{"type":"object","value":{
		"a":{"fieldType":{"type":"string"},"optional":false},
		"v":{"fieldType":{"type":"array","value":{"type":"number"}},"optional":true},
		"s":{"fieldType":{"type":"string"},"optional":false}}}`)
	cases := []struct {
		name  string
		table bundle.Table
		want  string
	}{
		{"reserved index name", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"by_id", []string{"a"}}}}, "reserved"},
		{"unknown field", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"by_x", []string{"x"}}}}, "does not exist"},
		{"creation time in index", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"by_a", []string{"a", "_creationTime"}}}}, "reserved field"},
		{"same fields twice", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"by_a", []string{"a"}}, {"by_a2", []string{"a"}}}}, "same fields"},
		{"duplicate name", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"i", []string{"a"}}}, SearchIndexes: []bundle.SearchIndex{{"i", "s", nil}}}, "two definitions"},
		{"wrong dimensions", bundle.Table{TableName: "t", DocumentType: doc,
			VectorIndexes: []bundle.VectorIndex{{"by_v", "v", 768, nil}}}, "1536"},
		{"vector over a string", bundle.Table{TableName: "t", DocumentType: doc,
			VectorIndexes: []bundle.VectorIndex{{"by_s", "s", 1536, nil}}}, "array of float64"},
		{"too many fields", bundle.Table{TableName: "t", DocumentType: doc,
			Indexes: []bundle.Index{{"by_many", strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p", ",")}}}, "up to 15"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			problems := tableProblems(t, tc.table)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

// tableProblems lists every way tb breaks the backend's index rules or the package's.
func tableProblems(t testing.TB, tb bundle.Table) []string {
	t.Helper()
	var doc struct {
		Value map[string]struct {
			FieldType struct {
				Type  string          `json:"type"`
				Value json.RawMessage `json:"value"` // element type, union members, literal...
			} `json:"fieldType"`
		} `json:"value"`
	}
	if err := json.Unmarshal(tb.DocumentType, &doc); err != nil {
		t.Fatalf("table %s: documentType: %v", tb.TableName, err)
	}
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !identifier.MatchString(tb.TableName) || strings.HasPrefix(tb.TableName, "_") {
		bad("invalid table name %q", tb.TableName)
	}
	field := func(index, f string) {
		if strings.HasPrefix(f, "_") {
			bad("index %s: reserved field %s", index, f)
		} else if _, ok := doc.Value[f]; !ok {
			bad("index %s: field %s does not exist", index, f)
		}
	}
	filters := func(index string, fs []string) {
		if len(fs) > 16 {
			bad("index %s: %d filter fields, up to 16 allowed", index, len(fs))
		}
		for _, f := range fs {
			field(index, f)
		}
	}
	seen := map[string]bool{}
	name := func(n string) {
		if !identifier.MatchString(n) || n == "by_id" || n == "by_creation_time" || strings.HasPrefix(n, "_") {
			bad("index name %q is invalid or reserved", n)
		}
		if seen[n] {
			bad("two definitions of index %q", n)
		}
		seen[n] = true
	}
	fieldLists := map[string]string{}
	for _, ix := range tb.Indexes {
		name(ix.IndexDescriptor)
		if len(ix.Fields) == 0 || len(ix.Fields) > 15 {
			bad("index %s: %d fields, 1 up to 15 allowed", ix.IndexDescriptor, len(ix.Fields))
		}
		key := strings.Join(ix.Fields, ",")
		if other, ok := fieldLists[key]; ok {
			bad("indexes %s and %s have the same fields", other, ix.IndexDescriptor)
		}
		fieldLists[key] = ix.IndexDescriptor
		for _, f := range ix.Fields {
			field(ix.IndexDescriptor, f)
		}
	}
	for _, ix := range tb.SearchIndexes {
		name(ix.IndexDescriptor)
		field(ix.IndexDescriptor, ix.SearchField)
		filters(ix.IndexDescriptor, ix.FilterFields)
	}
	for _, ix := range tb.VectorIndexes {
		name(ix.IndexDescriptor)
		if ix.Dimensions != 1536 {
			bad("vector index %s: %d dimensions, want 1536", ix.IndexDescriptor, ix.Dimensions)
		}
		var elem struct {
			Type string `json:"type"`
		}
		ft := doc.Value[ix.VectorField].FieldType
		if ft.Type == "array" {
			_ = json.Unmarshal(ft.Value, &elem) // a malformed element type leaves Type empty: reported below
		}
		if elem.Type != "number" {
			bad("vector index %s: field %s is not an array of float64", ix.IndexDescriptor, ix.VectorField)
		}
		filters(ix.IndexDescriptor, ix.FilterFields)
	}
	return p
}
