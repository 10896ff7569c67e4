package convexlocal

import (
	"encoding/json"
	"strings"
	"testing"
)

// baseSchema is the export() of a small test project's bundled schema.js: one table with a
// database, a search and a 1536-dimension vector index.
const baseSchema = `{"tables":[{"tableName":"documents",
 "indexes":[{"indexDescriptor":"by_author","fields":["author"]}],"stagedDbIndexes":[],
 "searchIndexes":[{"indexDescriptor":"search_body","searchField":"body","filterFields":["author","category"]}],"stagedSearchIndexes":[],
 "vectorIndexes":[{"indexDescriptor":"by_embedding","vectorField":"embedding","dimensions":1536,"filterFields":["category"]}],"stagedVectorIndexes":[],
 "documentType":{"type":"object","value":{
   "title":{"fieldType":{"type":"string"},"optional":false},
   "body":{"fieldType":{"type":"string"},"optional":false},
   "author":{"fieldType":{"type":"string"},"optional":false},
   "category":{"fieldType":{"type":"string"},"optional":false},
   "meta":{"fieldType":{"type":"union","value":[{"type":"null"},{"type":"object","value":{"tag":{"fieldType":{"type":"string"},"optional":false}}}]},"optional":true},
   "embedding":{"fieldType":{"type":"array","value":{"type":"number"}},"optional":false}}}}],
 "schemaValidation":true}`

func parseSchema(tb testing.TB, text string) *schemaJSON {
	tb.Helper()
	s, e := decodeSchema(json.RawMessage(text))
	if e != nil {
		tb.Fatalf("decode: %v", e)
	}
	return s
}

// mutate decodes baseSchema, lets fn change the documents table and returns the schema.
func mutate(tb testing.TB, fn func(t *tableJSON, s *schemaJSON)) *schemaJSON {
	tb.Helper()
	s := parseSchema(tb, baseSchema)
	fn(&s.Tables[0], s)
	return s
}

func fieldNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "f" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
	}
	return out
}

func dims(n int) *int { return &n }

func TestValidateSchemaRules(t *testing.T) {
	cases := []struct {
		name   string
		fn     func(t *tableJSON, s *schemaJSON)
		code   string
		detail string // the message after the schema prefix
	}{
		{"valid", func(*tableJSON, *schemaJSON) {}, "", ""},
		{"bad table name", func(t *tableJSON, _ *schemaJSON) { t.TableName = "bad-name" }, "InvalidTableName",
			`Invalid table name: "bad-name". Identifiers must start with a letter and can only contain letters, digits, and underscores.`},
		{"table name too long", func(t *tableJSON, _ *schemaJSON) { t.TableName = strings.Repeat("a", 65) }, "InvalidTableName", ""},
		{"all underscores", func(t *tableJSON, _ *schemaJSON) { t.TableName = "__" }, "InvalidTableName", ""},
		{"reserved table", func(t *tableJSON, _ *schemaJSON) { t.TableName = "_documents" }, "TableNameReserved", "_documents is a reserved table name."},
		{"too many indexes", func(t *tableJSON, _ *schemaJSON) {
			for _, f := range fieldNames(62) {
				t.StagedDBIndexes = append(t.StagedDBIndexes, dbIndexJSON{IndexDescriptor: "by_" + f, Fields: []string{f}})
			}
		}, "TooManyIndexes", `Table "documents" cannot have more than 64 indexes.`},
		{"64 indexes are fine", func(t *tableJSON, s *schemaJSON) {
			s.SchemaValidation = false
			for _, f := range fieldNames(61) {
				t.Indexes = append(t.Indexes, dbIndexJSON{IndexDescriptor: "by_" + f, Fields: []string{f}})
			}
		}, "", ""},
		{"bad index name", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].IndexDescriptor = "1st" }, "InvalidIndexName",
			`In table "documents": Invalid index name: "1st". Identifiers must be 64 characters or less, start with a letter, and only contain letters, digits, underscores.`},
		{"by_creation_time", func(t *tableJSON, _ *schemaJSON) { t.SearchIndexes[0].IndexDescriptor = "by_creation_time" }, "IndexNameReserved",
			`In table "documents" cannot name an index "by_creation_time" because the name is reserved. Indexes may not start with an underscore or be named "by_id" or "by_creation_time".`},
		{"fivetran prefix allowed", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].IndexDescriptor = "_fivetran_synced" }, "", ""},
		{"duplicate name across kinds", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].IndexDescriptor = "by_author" }, "IndexNamesNotUnique",
			`Table "documents" has two or more definitions of index "by_author".`},
		{"empty staged index", func(t *tableJSON, _ *schemaJSON) {
			t.StagedDBIndexes = []dbIndexJSON{{IndexDescriptor: "later"}}
		}, "EmptyIndex", `In table "documents" staged index "later" must have at least one field.`},
		{"15 fields are fine", func(t *tableJSON, s *schemaJSON) { s.SchemaValidation = false; t.Indexes[0].Fields = fieldNames(15) }, "", ""},
		{"16 fields", func(t *tableJSON, s *schemaJSON) { s.SchemaValidation = false; t.Indexes[0].Fields = fieldNames(16) }, "IndexTooManyFields", "Indexes may have up to 16 fields."},
		{"_id field", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].Fields = []string{"author", "_id"} }, "IndexFieldsContainId",
			"`_id` is not a valid index field. To load documents by ID, use `db.get(id)`."},
		{"_creationTime field", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].Fields = []string{"_creationTime"} }, "IndexFieldsContainCreationTime",
			"`_creationTime` is automatically added to the end of each index. It should not be added explicitly in the index definition. See https://docs.convex.dev/using/indexes for more details."},
		{"reserved nested field", func(t *tableJSON, _ *schemaJSON) { t.SearchIndexes[0].FilterFields = []string{"meta._tag"} }, "IndexFieldNameReserved",
			"Reserved fields (starting with `_`) are not allowed in indexes."},
		{"duplicate field", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].Fields = []string{"author", "title", "author"} }, "FieldsNotUniqueWithinIndex",
			"Duplicate field author. Index fields must be unique within an index."},
		{"same fields", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes = append(t.Indexes, dbIndexJSON{IndexDescriptor: "by_writer", Fields: []string{"author"}})
		}, "IndexNotUnique", `In table "documents" index "by_writer" and index "by_author" have the same fields. Indexes must be unique within a table.`},
		// The backend checks live and staged indexes together, in name order.
		{"staged twin", func(t *tableJSON, _ *schemaJSON) {
			t.StagedDBIndexes = []dbIndexJSON{{IndexDescriptor: "a_first", Fields: []string{"author"}}}
		}, "IndexNotUnique", `In table "documents" index "by_author" and index "a_first" have the same fields. Indexes must be unique within a table.`},
		{"same fields in another order", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes = []dbIndexJSON{{IndexDescriptor: "a", Fields: []string{"author", "title"}}, {IndexDescriptor: "b", Fields: []string{"title", "author"}}}
		}, "", ""},
		{"unparsable field", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].Fields = []string{""} }, "InvalidIndexField", `In index "by_author": Invalid index field: ""`},
		{"17 filter fields", func(t *tableJSON, s *schemaJSON) {
			s.SchemaValidation = false
			t.VectorIndexes[0].FilterFields = fieldNames(17)
		}, "IndexTooManyFilterFields",
			"Search indexes may have up to 16 filter fields."},
		{"same search index", func(t *tableJSON, _ *schemaJSON) {
			t.SearchIndexes = append(t.SearchIndexes, searchIndexJSON{IndexDescriptor: "search_again", SearchField: "body", FilterFields: []string{"category", "author"}})
		}, "SearchIndexFieldNotUnique", "In table \"documents\" search index \"search_body\" and search index \"search_again\" have the same `searchField`. Search index fields must be unique within a table. You should combine the\n             indexes with the same `searchField` into one index containing all `filterField`s and then use different subsets of the `filterField`s at query time."},
		// The backend keys search indexes on searchField alone.
		{"same search field, other filters", func(t *tableJSON, _ *schemaJSON) {
			t.SearchIndexes = append(t.SearchIndexes, searchIndexJSON{IndexDescriptor: "search_plain", SearchField: "body"})
		}, "SearchIndexFieldNotUnique", "In table \"documents\" search index \"search_plain\" and search index \"search_body\" have the same `searchField`. Search index fields must be unique within a table. You should combine the\n             indexes with the same `searchField` into one index containing all `filterField`s and then use different subsets of the `filterField`s at query time."},
		{"staged search twin", func(t *tableJSON, _ *schemaJSON) {
			t.StagedSearchIndexes = []searchIndexJSON{{IndexDescriptor: "search_later", SearchField: "body", FilterFields: []string{"title"}}}
		}, "SearchIndexFieldNotUnique", ""},
		{"other search field", func(t *tableJSON, _ *schemaJSON) {
			t.SearchIndexes = append(t.SearchIndexes, searchIndexJSON{IndexDescriptor: "search_title", SearchField: "title", FilterFields: []string{"author", "category"}})
		}, "", ""},
		{"dimensions 1", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].Dimensions = dims(1) }, "InvalidVectorDimensionError",
			`In table "documents": Dimensions 1 must be between 2 and 4096.`},
		{"dimensions 4097", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].Dimensions = dims(4097) }, "InvalidVectorDimensionError", ""},
		{"dimensions 4096", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].Dimensions = dims(4096) }, "", ""},
		{"no dimensions", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].Dimensions = nil }, "InvalidSchema", "Missing dimensions field"},
		{"same vector index", func(t *tableJSON, _ *schemaJSON) {
			t.VectorIndexes = append(t.VectorIndexes, vectorIndexJSON{IndexDescriptor: "by_embedding2", VectorField: "embedding", Dimensions: dims(1536)})
		}, "VectorIndexFieldNotUnique", "In table \"documents\" vector index \"by_embedding2\" and vector index \"by_embedding\" have the same `vectorField`. Vector index fields must be unique within a table. You should combine the\n             indexes with the same `vectorField` into one index containing all `filterField`s and then use different subsets of the `filterField`s at query time."},
		{"staged vector twin", func(t *tableJSON, _ *schemaJSON) {
			t.StagedVectorIndexes = []vectorIndexJSON{{IndexDescriptor: "by_embedding_next", VectorField: "embedding", Dimensions: dims(1536)}}
		}, "VectorIndexFieldNotUnique", ""},
		{"same vector field, other dimensions", func(t *tableJSON, _ *schemaJSON) {
			t.VectorIndexes = append(t.VectorIndexes, vectorIndexJSON{IndexDescriptor: "by_embedding_small", VectorField: "embedding", Dimensions: dims(8)})
		}, "", ""},
		{"missing indexed field", func(t *tableJSON, _ *schemaJSON) { t.SearchIndexes[0].FilterFields = []string{"nope"} }, "SchemaDefinitionError",
			`In table "documents" the index "search_body" is invalid because it references the field nope that does not exist.`},
		{"missing field of a staged index", func(t *tableJSON, _ *schemaJSON) {
			t.StagedDBIndexes = []dbIndexJSON{{IndexDescriptor: "by_nope", Fields: []string{"nope"}}}
		}, "SchemaDefinitionError", `In table "documents" the index "by_nope" is invalid because it references the field nope that does not exist.`},
		// The backend reports the first reference in its order: database fields by index name,
		// then every search field, then the search filter fields.
		{"first missing field in name order", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes = []dbIndexJSON{{IndexDescriptor: "b_index", Fields: []string{"nope_b"}}, {IndexDescriptor: "a_index", Fields: []string{"nope_a"}}}
		}, "SchemaDefinitionError", `In table "documents" the index "a_index" is invalid because it references the field nope_a that does not exist.`},
		{"search fields before filter fields", func(t *tableJSON, _ *schemaJSON) {
			t.SearchIndexes = []searchIndexJSON{{IndexDescriptor: "a_search", SearchField: "body", FilterFields: []string{"nope_filter"}}, {IndexDescriptor: "b_search", SearchField: "nope_search"}}
		}, "SchemaDefinitionError", `In table "documents" the index "b_search" is invalid because it references the field nope_search that does not exist.`},
		// Vector filter fields are not among the fields the backend checks.
		{"undeclared vector filter field", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].FilterFields = []string{"nope"} }, "", ""},
		{"undeclared staged vector filter field", func(t *tableJSON, _ *schemaJSON) {
			t.StagedVectorIndexes = []vectorIndexJSON{{IndexDescriptor: "by_embedding_next", VectorField: "embedding", Dimensions: dims(8), FilterFields: []string{"nope"}}}
		}, "", ""},
		{"field inside optional union object", func(t *tableJSON, _ *schemaJSON) { t.Indexes[0].Fields = []string{"meta.tag"} }, "", ""},
		{"missing field without validation", func(t *tableJSON, s *schemaJSON) { s.SchemaValidation = false; t.Indexes[0].Fields = []string{"nope"} }, "", ""},
		{"any document", func(t *tableJSON, _ *schemaJSON) {
			t.DocumentType = json.RawMessage(`{"type":"any"}`)
			t.Indexes[0].Fields = []string{"nope"}
		}, "", ""},
		{"vector on string", func(t *tableJSON, _ *schemaJSON) { t.VectorIndexes[0].VectorField = "title" }, "SchemaDefinitionError",
			`In table "documents" the vector index "by_embedding" is invalid because it references the field title that is neither an array of float64 or optional array of float64.`},
		// The backend's overlap check counts a union member without the field as possibly
		// holding an array of float64.
		{"vector field absent from one union member", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes, t.SearchIndexes, t.VectorIndexes[0].FilterFields = nil, nil, nil
			t.DocumentType = json.RawMessage(`{"type":"union","value":[
			  {"type":"object","value":{"embedding":{"fieldType":{"type":"string"},"optional":false}}},
			  {"type":"object","value":{"title":{"fieldType":{"type":"string"},"optional":false}}}]}`)
		}, "", ""},
		{"vector field absent from a nested object", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes, t.SearchIndexes, t.VectorIndexes[0].FilterFields = nil, nil, nil
			t.VectorIndexes[0].VectorField = "meta.embedding"
			t.DocumentType = json.RawMessage(`{"type":"object","value":{"meta":{"fieldType":{"type":"union","value":[
			  {"type":"object","value":{"embedding":{"fieldType":{"type":"string"},"optional":false}}},
			  {"type":"object","value":{}}]},"optional":false}}}`)
		}, "", ""},
		{"vector field on a string in every member", func(t *tableJSON, _ *schemaJSON) {
			t.Indexes, t.SearchIndexes = nil, nil
			t.DocumentType = json.RawMessage(`{"type":"union","value":[
			  {"type":"object","value":{"embedding":{"fieldType":{"type":"string"},"optional":false}}},
			  {"type":"object","value":{"embedding":{"fieldType":{"type":"array","value":{"type":"string"}},"optional":true}}}]}`)
		}, "SchemaDefinitionError", `In table "documents" the vector index "by_embedding" is invalid because it references the field embedding that is neither an array of float64 or optional array of float64.`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateSchema(mutate(t, tc.fn))
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("valid schema rejected: %v", err)
			case tc.code == "":
				return
			case err == nil:
				t.Fatalf("accepted, want %s", tc.code)
			}
			if err.Status != 400 || err.Code != tc.code {
				t.Errorf("got %d %s, want 400 %s (%s)", err.Status, err.Code, tc.code, err.Message)
			}
			if !strings.HasPrefix(err.Message, schemaPrefix) {
				t.Errorf("message %q lacks the prefix %q", err.Message, schemaPrefix)
			}
			if tc.detail != "" && err.Message != schemaPrefix+tc.detail {
				t.Errorf("message detail = %q\nwant             %q", strings.TrimPrefix(err.Message, schemaPrefix), tc.detail)
			}
		})
	}
}

func TestDiffIndexes(t *testing.T) {
	db := func(name string, staged bool, fields ...string) Index {
		return Index{Name: "t." + name, Type: KindDatabase, Fields: fields, Staged: staged}
	}
	vec := Index{Name: "t.v", Type: KindVector, VectorField: "e", Dimensions: 1536, FilterFields: []string{"a", "b"}}
	vecReordered := vec
	vecReordered.FilterFields = []string{"b", "a"}
	names := func(list []Index) string {
		var out []string
		for _, ix := range list {
			out = append(out, ix.Name)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name                              string
		active, next                      []Index
		added, removed, enabled, disabled string
	}{
		{"first push", nil, []Index{db("a", false, "x"), vec}, "t.a,t.v", "", "", ""},
		{"identical", []Index{db("a", false, "x"), vec}, []Index{db("a", false, "x"), vecReordered}, "", "", "", ""},
		{"removed", []Index{db("a", false, "x"), vec}, []Index{db("a", false, "x")}, "", "t.v", "", ""},
		{"changed definition", []Index{db("a", false, "x")}, []Index{db("a", false, "x", "y")}, "t.a", "t.a", "", ""},
		{"enabled", []Index{db("a", true, "x")}, []Index{db("a", false, "x")}, "", "", "t.a", ""},
		{"disabled", []Index{db("a", false, "x")}, []Index{db("a", true, "x")}, "", "", "", "t.a"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := diffIndexes(tc.active, tc.next)
			got := []string{names(d.Added), names(d.Removed), names(d.Enabled), names(d.Disabled)}
			want := []string{tc.added, tc.removed, tc.enabled, tc.disabled}
			for i, kind := range []string{"added", "removed", "enabled", "disabled"} {
				if got[i] != want[i] {
					t.Errorf("%s = %q, want %q", kind, got[i], want[i])
				}
			}
		})
	}
}

func TestIndexWireShape(t *testing.T) {
	cases := []struct {
		name string
		ix   Index
		want string
	}{
		{"database", Index{Name: "d.a", Type: KindDatabase, Fields: []string{"x"}}, `{"fields":["x"],"name":"d.a","type":"database"}`},
		{"search without filters", Index{Name: "d.s", Type: KindSearch, SearchField: "b"}, `{"filterFields":[],"name":"d.s","searchField":"b","type":"search"}`},
		{"staged vector", Index{Name: "d.v", Type: KindVector, VectorField: "e", Dimensions: 8, Staged: true},
			`{"dimensions":8,"filterFields":[],"name":"d.v","staged":true,"type":"vector","vectorField":"e"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.ix)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestKeyForms(t *testing.T) {
	s := &Server{opts: Options{AdminKey: "local|0123abcd"}}
	cases := []struct {
		name, key string
		ok        bool
	}{
		{"exact", "local|0123abcd", true},
		{"prod prefix", "prod:local|0123abcd", true},
		{"dev prefix", "dev:local|0123abcd", true},
		{"other secret", "local|0123abce", false},
		{"other instance", "prod:other|0123abcd", false},
		{"empty", "", false},
		{"secret only", "0123abcd", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.keyOK(tc.key); got != tc.ok {
				t.Errorf("keyOK(%q) = %v, want %v", tc.key, got, tc.ok)
			}
		})
	}
	if got := keyName("prod:happy-animal-123|x"); got != "happy-animal-123" {
		t.Errorf("keyName = %q", got)
	}
}
