package convexlocal_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// docTable is a documents table with the fields the basic project uses.
const docTable = `defineTable({ title: v.string(), body: v.string(), author: v.string(), category: v.string(), embedding: v.array(v.float64()) })`

func schemaOf(tables string) string {
	return schemaHead + "\nexport default defineSchema({\n" + tables + "\n});\n"
}

// manyFields builds a table with n string fields f0..f(n-1) and passes it to chain.
func manyFields(n int, chain string) string {
	return schemaHead + fmt.Sprintf(`
const fields = {};
for (let i = 0; i < %d; i++) fields["f" + i] = v.string();
let t = defineTable(fields);
const names = Object.keys(fields);
%s
export default defineSchema({ documents: t });
`, n, chain)
}

// schemaRuleCases violate each schema rule of docs/convex-protocol.md once; want is the backend's code and a
// part of its message.
var schemaRuleCases = []struct {
	name, schema, code, detail string
}{
	{"bad table name", schemaOf(`"bad-name": defineTable({ a: v.string() }),`), "InvalidTableName", `Invalid table name: "bad-name".`},
	{"reserved table name", schemaOf(`_documents: defineTable({ a: v.string() }),`), "TableNameReserved", "_documents is a reserved table name."},
	{"too many indexes", manyFields(65, `for (const f of names) t = t.index("by_" + f, [f]);`), "TooManyIndexes", `Table "documents" cannot have more than 64 indexes.`},
	{"bad index name", schemaOf(`documents: ` + docTable + `.index("bad-name", ["author"]),`), "InvalidIndexName", `Invalid index name: "bad-name".`},
	{"reserved index name", schemaOf(`documents: ` + docTable + `.index("by_id", ["author"]),`), "IndexNameReserved", `cannot name an index "by_id" because the name is reserved.`},
	{"underscore index name", schemaOf(`documents: ` + docTable + `.index("_hidden", ["author"]),`), "IndexNameReserved", `cannot name an index "_hidden"`},
	{"duplicate index name", schemaOf(`documents: ` + docTable + `.index("by_body", ["body"]).searchIndex("by_body", { searchField: "body" }),`), "IndexNamesNotUnique", `Table "documents" has two or more definitions of index "by_body".`},
	{"empty index", schemaOf(`documents: ` + docTable + `.index("empty", []),`), "EmptyIndex", `In table "documents" index "empty" must have at least one field.`},
	{"too many fields", manyFields(16, `t = t.index("wide", names);`), "IndexTooManyFields", "Indexes may have up to 16 fields."},
	{"field _id", schemaOf(`documents: ` + docTable + `.index("by_doc", ["_id"]),`), "IndexFieldsContainId", "`_id` is not a valid index field."},
	{"field _creationTime", schemaOf(`documents: ` + docTable + `.index("by_time", ["_creationTime"]),`), "IndexFieldsContainCreationTime", "`_creationTime` is automatically added to the end of each index."},
	{"reserved field", schemaOf(`documents: ` + docTable + `.index("by_x", ["author._x"]),`), "IndexFieldNameReserved", "Reserved fields (starting with `_`) are not allowed in indexes."},
	{"duplicate field", schemaOf(`documents: ` + docTable + `.index("by_twice", ["author", "author"]),`), "FieldsNotUniqueWithinIndex", "Duplicate field author. Index fields must be unique within an index."},
	{"same fields", schemaOf(`documents: ` + docTable + `.index("a", ["author"]).index("b", ["author"]),`), "IndexNotUnique", `In table "documents" index "b" and index "a" have the same fields.`},
	{"same fields as a staged index", schemaOf(`documents: ` + docTable + `.index("by_a", ["author"]).index("by_a2", { fields: ["author"], staged: true }),`), "IndexNotUnique", `In table "documents" index "by_a2" and index "by_a" have the same fields.`},
	{"unparsable field", schemaOf(`documents: ` + docTable + `.index("by_bad", ["author..x"]),`), "InvalidIndexField", `In index "by_bad": Invalid index field: "author..x"`},
	{"too many filter fields", manyFields(18, `t = t.searchIndex("s", { searchField: "f0", filterFields: names.slice(1) });`), "IndexTooManyFilterFields", "Search indexes may have up to 16 filter fields."},
	{"same search field", schemaOf(`documents: ` + docTable + `.searchIndex("a", { searchField: "body", filterFields: ["author"] }).searchIndex("b", { searchField: "body", filterFields: ["author"] }),`), "SearchIndexFieldNotUnique", `search index "b" and search index "a" have the same ` + "`searchField`"},
	{"same search field, other filters", schemaOf(`documents: ` + docTable + `.searchIndex("a", { searchField: "body", filterFields: ["author"] }).searchIndex("b", { searchField: "body" }),`), "SearchIndexFieldNotUnique", `search index "b" and search index "a" have the same ` + "`searchField`"},
	{"vector dimensions", schemaOf(`documents: ` + docTable + `.vectorIndex("v", { vectorField: "embedding", dimensions: 5000 }),`), "InvalidVectorDimensionError", `In table "documents": Dimensions 5000 must be between 2 and 4096.`},
	{"vector without dimensions", schemaOf(`documents: ` + docTable + `.vectorIndex("v", { vectorField: "embedding" }),`), "InvalidSchema", "Missing dimensions field"},
	{"same vector field", schemaOf(`documents: ` + docTable + `.vectorIndex("a", { vectorField: "embedding", dimensions: 8 }).vectorIndex("b", { vectorField: "embedding", dimensions: 8, filterFields: ["author"] }),`), "VectorIndexFieldNotUnique", `vector index "b" and vector index "a" have the same ` + "`vectorField`"},
	{"missing field", schemaOf(`documents: ` + docTable + `.index("by_nope", ["nope"]),`), "SchemaDefinitionError", `In table "documents" the index "by_nope" is invalid because it references the field nope that does not exist.`},
	{"vector on string", schemaOf(`documents: ` + docTable + `.vectorIndex("v", { vectorField: "title", dimensions: 8 }),`), "SchemaDefinitionError", `the vector index "v" is invalid because it references the field title that is neither an array of float64 or optional array of float64.`},
	{"no default export", schemaHead + "export const schema = 1;\n", "MissingSchemaExportError", "Schema file missing default export."},
	{"not a schema", schemaHead + "export default { tables: {} };\n", "InvalidSchemaExport", "Default export from schema file isn't a Convex schema."},
	{"schema throws", schemaHead + "throw new Error(\"schema boom\");\nexport default 1;\n", "InvalidSchema", "Uncaught Error: schema boom"},
}

// TestCLISchemaRules: each violated rule makes the real CLI exit 1 with the backend's code and
// message in its output, and commits nothing.
func TestCLISchemaRules(t *testing.T) {
	for _, tc := range schemaRuleCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key := start(t, convexlocal.Options{})
			res := deploy(t, srv.URL(), key, newProject(t, map[string]string{"convex/schema.ts": tc.schema}))
			if res.code != 1 {
				t.Fatalf("exit code %d, want 1:\n%s", res.code, res.out)
			}
			for _, want := range []string{"400 Bad Request: " + tc.code + ": Hit an error while pushing:", tc.detail} {
				if !strings.Contains(res.out, want) {
					t.Errorf("CLI output lacks %q:\n%s", want, res.out)
				}
			}
			if st := srv.State(); st.PushCount != 0 || len(st.Tables) != 0 {
				t.Errorf("a rejected push changed the state: %+v", st)
			}
		})
	}
}

// schemaAcceptedCases are schemas the backend accepts although they look close to a rule.
var schemaAcceptedCases = []struct{ name, schema string }{
	// Vector filter fields are not checked against the document validator.
	{"undeclared vector filter field", schemaOf(`documents: ` + docTable + `.vectorIndex("v", { vectorField: "embedding", dimensions: 8, filterFields: ["nope"] }),`)},
	// A union member without the vector field may still hold an array of float64.
	{"vector field absent from a union member", schemaOf(`documents: defineTable(v.union(v.object({ embedding: v.string() }), v.object({ title: v.string() }))).vectorIndex("v", { vectorField: "embedding", dimensions: 8 }),`)},
}

// TestCLISchemaAccepted: the real CLI deploys each of these schemas.
func TestCLISchemaAccepted(t *testing.T) {
	for _, tc := range schemaAcceptedCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, key := start(t, convexlocal.Options{})
			mustDeploy(t, srv.URL(), key, newProject(t, map[string]string{"convex/schema.ts": tc.schema}))
			if st := srv.State(); st.PushCount != 1 {
				t.Errorf("push count %d after the deploy, want 1", st.PushCount)
			}
		})
	}
}
