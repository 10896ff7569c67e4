package convexlocal

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// schemaPrefix starts the message of every error the backend raises while evaluating a pushed
// schema (docs/convex-protocol.md, "Schema rules").
const schemaPrefix = "Hit an error while pushing:\nHit an error while evaluating your schema:\n"

// Limits of the backend (docs/convex-protocol.md, "Schema rules").
const (
	maxIndexesPerTable = 64
	maxIndexFields     = 16 // including the implicit trailing _creationTime
	maxFilterFields    = 16
	minVectorDims      = 2
	maxVectorDims      = 4096
	maxIdentifierLen   = 64
	// missingDimensions marks a vector index whose definition has no dimensions; such a schema
	// is rejected before it can reach the state.
	missingDimensions = -1
)

const schemaDocs = "To learn more, see the schema documentation at https://docs.convex.dev/database/schemas."

// schemaJSON is what a pushed schema.js's default export returns from export().
type schemaJSON struct {
	Tables           []tableJSON `json:"tables"`
	SchemaValidation bool        `json:"schemaValidation"`
}

type tableJSON struct {
	TableName           string            `json:"tableName"`
	Indexes             []dbIndexJSON     `json:"indexes"`
	StagedDBIndexes     []dbIndexJSON     `json:"stagedDbIndexes"`
	SearchIndexes       []searchIndexJSON `json:"searchIndexes"`
	StagedSearchIndexes []searchIndexJSON `json:"stagedSearchIndexes"`
	VectorIndexes       []vectorIndexJSON `json:"vectorIndexes"`
	StagedVectorIndexes []vectorIndexJSON `json:"stagedVectorIndexes"`
	DocumentType        json.RawMessage   `json:"documentType"`
}

type dbIndexJSON struct {
	IndexDescriptor string   `json:"indexDescriptor"`
	Fields          []string `json:"fields"`
}

type searchIndexJSON struct {
	IndexDescriptor string   `json:"indexDescriptor"`
	SearchField     string   `json:"searchField"`
	FilterFields    []string `json:"filterFields"`
}

type vectorIndexJSON struct {
	IndexDescriptor string   `json:"indexDescriptor"`
	VectorField     string   `json:"vectorField"`
	Dimensions      *int     `json:"dimensions"`
	FilterFields    []string `json:"filterFields"`
}

// Index kinds, as the backend names them in index diffs.
const (
	KindDatabase = "database"
	KindSearch   = "search"
	KindVector   = "vector"
)

// Index is one index of a table in the shape of the backend's index diffs
// (`{name:"table.index", type, …}`), also used by the introspection state.
type Index struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Fields       []string `json:"fields,omitempty"`
	SearchField  string   `json:"searchField,omitempty"`
	VectorField  string   `json:"vectorField,omitempty"`
	Dimensions   int      `json:"dimensions,omitempty"`
	FilterFields []string `json:"filterFields,omitempty"`
	Staged       bool     `json:"staged,omitempty"`
}

// MarshalJSON writes the index exactly in the backend's diff shape: database indexes carry
// fields, search and vector indexes always carry filterFields (possibly empty).
func (ix Index) MarshalJSON() ([]byte, error) {
	return json.Marshal(ix.wire())
}

func (ix Index) wire() map[string]any {
	m := map[string]any{"name": ix.Name, "type": ix.Type}
	switch ix.Type {
	case KindDatabase:
		m["fields"] = nonNil(ix.Fields)
	case KindSearch:
		m["searchField"] = ix.SearchField
		m["filterFields"] = nonNil(ix.FilterFields)
	case KindVector:
		m["vectorField"] = ix.VectorField
		m["dimensions"] = ix.Dimensions
		m["filterFields"] = nonNil(ix.FilterFields)
	}
	if ix.Staged {
		m["staged"] = true
	}
	return m
}

// sameDefinition reports whether two indexes have the same name and definition, ignoring
// whether they are staged.
func (ix Index) sameDefinition(o Index) bool {
	return ix.Name == o.Name && ix.Type == o.Type && slices.Equal(ix.Fields, o.Fields) &&
		ix.SearchField == o.SearchField && ix.VectorField == o.VectorField &&
		ix.Dimensions == o.Dimensions && slices.Equal(sortedCopy(ix.FilterFields), sortedCopy(o.FilterFields))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// indexes lists every index of the schema (staged ones marked), in table order.
func (s *schemaJSON) indexes() []Index {
	if s == nil {
		return nil
	}
	var out []Index
	for _, t := range s.Tables {
		out = append(out, t.indexes()...)
	}
	return out
}

func (t tableJSON) indexes() []Index {
	var out []Index
	db := func(list []dbIndexJSON, staged bool) {
		for _, ix := range list {
			out = append(out, Index{Name: t.TableName + "." + ix.IndexDescriptor, Type: KindDatabase, Fields: nonNil(ix.Fields), Staged: staged})
		}
	}
	search := func(list []searchIndexJSON, staged bool) {
		for _, ix := range list {
			out = append(out, Index{Name: t.TableName + "." + ix.IndexDescriptor, Type: KindSearch, SearchField: ix.SearchField, FilterFields: nonNil(ix.FilterFields), Staged: staged})
		}
	}
	vector := func(list []vectorIndexJSON, staged bool) {
		for _, ix := range list {
			d := missingDimensions
			if ix.Dimensions != nil {
				d = *ix.Dimensions
			}
			out = append(out, Index{Name: t.TableName + "." + ix.IndexDescriptor, Type: KindVector, VectorField: ix.VectorField, Dimensions: d, FilterFields: nonNil(ix.FilterFields), Staged: staged})
		}
	}
	db(t.Indexes, false)
	db(t.StagedDBIndexes, true)
	search(t.SearchIndexes, false)
	search(t.StagedSearchIndexes, true)
	vector(t.VectorIndexes, false)
	vector(t.StagedVectorIndexes, true)
	return out
}

// IndexDiff is the backend's index diff of one component, with its snake_case keys.
type IndexDiff struct {
	Added    []Index `json:"added_indexes"`
	Removed  []Index `json:"removed_indexes"`
	Enabled  []Index `json:"enabled_indexes"`
	Disabled []Index `json:"disabled_indexes"`
}

// diffIndexes compares the active indexes with the pushed ones by name and definition: a changed
// definition is a removal plus an addition; a staged index that becomes active is enabled.
func diffIndexes(active, next []Index) IndexDiff {
	d := IndexDiff{Added: []Index{}, Removed: []Index{}, Enabled: []Index{}, Disabled: []Index{}}
	byName := map[string]Index{}
	for _, ix := range active {
		byName[ix.Name] = ix
	}
	kept := map[string]bool{}
	for _, ix := range next {
		old, ok := byName[ix.Name]
		switch {
		case ok && old.sameDefinition(ix) && old.Staged == ix.Staged:
			kept[ix.Name] = true
		case ok && old.sameDefinition(ix) && old.Staged && !ix.Staged:
			kept[ix.Name] = true
			d.Enabled = append(d.Enabled, ix)
		case ok && old.sameDefinition(ix):
			kept[ix.Name] = true
			d.Disabled = append(d.Disabled, ix)
		default:
			d.Added = append(d.Added, ix)
		}
	}
	for _, ix := range active {
		if !kept[ix.Name] {
			d.Removed = append(d.Removed, ix)
		}
	}
	return d
}

// apiError is a backend error response: status and `{"code","message"}`.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func schemaError(code, detail string) *apiError {
	return &apiError{Status: 400, Code: code, Message: schemaPrefix + detail}
}

// validIdentifier is the backend's identifier rule for table and index names.
func validIdentifier(s string) bool {
	if s == "" || len(s) > maxIdentifierLen || strings.Trim(s, "_") == "" {
		return false
	}
	for i, r := range s {
		letter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		switch {
		case i == 0 && !letter && r != '_':
			return false
		case !letter && r != '_' && !(r >= '0' && r <= '9'):
			return false
		}
	}
	return true
}

// validateSchema applies every schema rule of docs/convex-protocol.md to an evaluated schema, in the order the
// backend parses a schema: per table its name, index count, index names, index fields, then the
// uniqueness rules, and last (schemaValidation only) the fields the indexes reference.
func validateSchema(s *schemaJSON) *apiError {
	for _, t := range s.Tables {
		if err := validateTable(t); err != nil {
			return err
		}
	}
	if s.SchemaValidation {
		return checkIndexReferences(s)
	}
	return nil
}

func validateTable(t tableJSON) *apiError {
	name := t.TableName
	if !validIdentifier(name) {
		return schemaError("InvalidTableName", fmt.Sprintf("Invalid table name: %q. Identifiers must start with a letter and can only contain letters, digits, and underscores.", name))
	}
	if strings.HasPrefix(name, "_") {
		return schemaError("TableNameReserved", fmt.Sprintf("%s is a reserved table name.", name))
	}
	all := t.indexes()
	if len(all) > maxIndexesPerTable {
		return schemaError("TooManyIndexes", fmt.Sprintf("Table %q cannot have more than %d indexes.", name, maxIndexesPerTable))
	}
	seen := map[string]bool{}
	for _, ix := range all {
		desc := strings.TrimPrefix(ix.Name, name+".")
		if !validIdentifier(desc) {
			return schemaError("InvalidIndexName", fmt.Sprintf("In table %q: Invalid index name: %q. Identifiers must be 64 characters or less, start with a letter, and only contain letters, digits, underscores.", name, desc))
		}
		if desc == "by_id" || desc == "by_creation_time" || (strings.HasPrefix(desc, "_") && !strings.HasPrefix(desc, "_fivetran")) {
			return schemaError("IndexNameReserved", fmt.Sprintf("In table %q cannot name an index %q because the name is reserved. Indexes may not start with an underscore or be named \"by_id\" or \"by_creation_time\".", name, desc))
		}
		if seen[desc] {
			return schemaError("IndexNamesNotUnique", fmt.Sprintf("Table %q has two or more definitions of index %q.", name, desc))
		}
		seen[desc] = true
	}
	for _, ix := range all {
		if err := validateIndexFields(name, ix); err != nil {
			return err
		}
	}
	return checkUniqueIndexes(name, all)
}

func validateIndexFields(table string, ix Index) *apiError {
	desc := strings.TrimPrefix(ix.Name, table+".")
	switch ix.Type {
	case KindDatabase:
		if len(ix.Fields) == 0 {
			kind := "index"
			if ix.Staged {
				kind = "staged index"
			}
			return schemaError("EmptyIndex", fmt.Sprintf("In table %q %s %q must have at least one field.", table, kind, desc))
		}
		if len(ix.Fields)+1 > maxIndexFields {
			return schemaError("IndexTooManyFields", fmt.Sprintf("Indexes may have up to %d fields.", maxIndexFields))
		}
		seen := map[string]bool{}
		for _, f := range ix.Fields {
			if err := checkIndexField(desc, f); err != nil {
				return err
			}
			if seen[f] {
				return schemaError("FieldsNotUniqueWithinIndex", fmt.Sprintf("Duplicate field %s. Index fields must be unique within an index.", f))
			}
			seen[f] = true
		}
	case KindSearch, KindVector:
		if len(ix.FilterFields) > maxFilterFields {
			return schemaError("IndexTooManyFilterFields", fmt.Sprintf("Search indexes may have up to %d filter fields.", maxFilterFields))
		}
		main := ix.SearchField
		if ix.Type == KindVector {
			main = ix.VectorField
		}
		for _, f := range append([]string{main}, ix.FilterFields...) {
			if err := checkIndexField(desc, f); err != nil {
				return err
			}
		}
		if ix.Type == KindVector {
			if ix.Dimensions == missingDimensions {
				return schemaError("InvalidSchema", "Missing dimensions field")
			}
			if ix.Dimensions < minVectorDims || ix.Dimensions > maxVectorDims {
				return schemaError("InvalidVectorDimensionError", fmt.Sprintf("In table %q: Dimensions %d must be between %d and %d.", table, ix.Dimensions, minVectorDims, maxVectorDims))
			}
		}
	}
	return nil
}

// checkIndexField applies the field rules: `_id` and `_creationTime` get their own, more
// actionable errors; any other path part starting with `_` is reserved.
func checkIndexField(index, field string) *apiError {
	switch field {
	case "_id":
		return schemaError("IndexFieldsContainId", "`_id` is not a valid index field. To load documents by ID, use `db.get(id)`.")
	case "_creationTime":
		return schemaError("IndexFieldsContainCreationTime", "`_creationTime` is automatically added to the end of each index. It should not be added explicitly in the index definition. See https://docs.convex.dev/using/indexes for more details.")
	}
	parts := strings.Split(field, ".")
	for _, p := range parts {
		if !validIdentifier(p) {
			return schemaError("InvalidIndexField", fmt.Sprintf("In index %q: Invalid index field: %q", index, field))
		}
	}
	for _, p := range parts {
		if strings.HasPrefix(p, "_") {
			return schemaError("IndexFieldNameReserved", "Reserved fields (starting with `_`) are not allowed in indexes.")
		}
	}
	return nil
}

// checkUniqueIndexes applies the backend's uniqueness rules (json.rs validate_unique_index_fields)
// to each kind, live and staged indexes together: database indexes by their field list, search
// indexes by searchField alone, vector indexes by vectorField and dimensions. Like the backend
// it walks the indexes of a kind in name order and names the later one first.
func checkUniqueIndexes(table string, all []Index) *apiError {
	desc := func(ix Index) string { return strings.TrimPrefix(ix.Name, table+".") }
	for _, kind := range []string{KindDatabase, KindSearch, KindVector} {
		var same []Index
		for _, ix := range all {
			if ix.Type == kind {
				same = append(same, ix)
			}
		}
		sort.SliceStable(same, func(i, j int) bool { return same[i].Name < same[j].Name })
		seen := map[string]Index{}
		for _, ix := range same {
			key := uniqueKey(ix)
			other, dup := seen[key]
			if !dup {
				seen[key] = ix
				continue
			}
			a, b := desc(ix), desc(other)
			switch kind {
			case KindDatabase:
				return schemaError("IndexNotUnique", fmt.Sprintf("In table %q index %q and index %q have the same fields. Indexes must be unique within a table.", table, a, b))
			case KindSearch:
				return schemaError("SearchIndexFieldNotUnique", fmt.Sprintf("In table %q search index %q and search index %q have the same `searchField`. Search index fields must be unique within a table. You should combine the\n             indexes with the same `searchField` into one index containing all `filterField`s and then use different subsets of the `filterField`s at query time.", table, a, b))
			default:
				return schemaError("VectorIndexFieldNotUnique", fmt.Sprintf("In table %q vector index %q and vector index %q have the same `vectorField`. Vector index fields must be unique within a table. You should combine the\n             indexes with the same `vectorField` into one index containing all `filterField`s and then use different subsets of the `filterField`s at query time.", table, a, b))
			}
		}
	}
	return nil
}

// uniqueKey is what two indexes of one kind may not share.
func uniqueKey(ix Index) string {
	switch ix.Type {
	case KindSearch:
		return ix.SearchField
	case KindVector:
		return fmt.Sprintf("%s\x00%d", ix.VectorField, ix.Dimensions)
	}
	return strings.Join(ix.Fields, "\x00")
}

// validator is the JSON form of a Convex validator (`{"type":"object","value":{…}}`); ids
// carry tableName, records keys and values.
type validator struct {
	Type      string          `json:"type"`
	Value     json.RawMessage `json:"value"`
	TableName string          `json:"tableName,omitempty"`
	Keys      *validator      `json:"keys,omitempty"`
	Values    *objectField    `json:"values,omitempty"`
}

type objectField struct {
	FieldType validator `json:"fieldType"`
	Optional  bool      `json:"optional"`
}

// checkIndexReferences rejects indexes on fields the document validator can never contain, and
// vector indexes on fields that cannot hold an array of float64 (backend
// DatabaseSchema::check_index_references). Tables are checked in name order, as the backend
// keeps them in a sorted map.
func checkIndexReferences(s *schemaJSON) *apiError {
	for _, t := range sortedBy(s.Tables, func(t tableJSON) string { return t.TableName }) {
		var doc *validator
		if len(t.DocumentType) > 0 && string(t.DocumentType) != "null" {
			doc = new(validator)
			if err := json.Unmarshal(t.DocumentType, doc); err != nil {
				return &apiError{Status: 400, Code: "InvalidSchema", Message: schemaPrefix + "Invalid document type: " + err.Error()}
			}
		}
		if doc == nil {
			continue
		}
		for _, ref := range t.fieldsReferencedInIndexes() {
			if !canContain(*doc, strings.Split(ref.field, ".")) {
				return schemaError("SchemaDefinitionError", fmt.Sprintf("In table %q the index %q is invalid because it references the field %s that does not exist.", t.TableName, ref.index, ref.field))
			}
		}
		for _, ref := range t.vectorFields() {
			if !vectorEligible(*doc, strings.Split(ref.field, ".")) {
				return schemaError("SchemaDefinitionError", fmt.Sprintf("In table %q the vector index %q is invalid because it references the field %s that is neither an array of float64 or optional array of float64.", t.TableName, ref.index, ref.field))
			}
		}
	}
	return nil
}

// indexRef is one field an index refers to.
type indexRef struct{ index, field string }

// fieldsReferencedInIndexes lists the fields the backend checks against the document validator,
// in its order (mod.rs TableDefinition::fields_referenced_in_indexes): database index fields,
// search fields, search filter fields, vector fields; live before staged, each list in index
// name order. Vector filter fields are not among them.
func (t tableJSON) fieldsReferencedInIndexes() []indexRef {
	var out []indexRef
	db := append(sortedBy(t.Indexes, dbName), sortedBy(t.StagedDBIndexes, dbName)...)
	for _, ix := range db {
		for _, f := range ix.Fields {
			out = append(out, indexRef{ix.IndexDescriptor, f})
		}
	}
	search := append(sortedBy(t.SearchIndexes, searchName), sortedBy(t.StagedSearchIndexes, searchName)...)
	for _, ix := range search {
		out = append(out, indexRef{ix.IndexDescriptor, ix.SearchField})
	}
	for _, ix := range search {
		for _, f := range sortedCopy(ix.FilterFields) {
			out = append(out, indexRef{ix.IndexDescriptor, f})
		}
	}
	return append(out, t.vectorFields()...)
}

// vectorFields lists each vector index's vector field, live before staged, in name order.
func (t tableJSON) vectorFields() []indexRef {
	var out []indexRef
	for _, ix := range append(sortedBy(t.VectorIndexes, vectorName), sortedBy(t.StagedVectorIndexes, vectorName)...) {
		out = append(out, indexRef{ix.IndexDescriptor, ix.VectorField})
	}
	return out
}

func dbName(ix dbIndexJSON) string         { return ix.IndexDescriptor }
func searchName(ix searchIndexJSON) string { return ix.IndexDescriptor }
func vectorName(ix vectorIndexJSON) string { return ix.IndexDescriptor }

// sortedBy returns a copy of list sorted by key.
func sortedBy[T any](list []T, key func(T) string) []T {
	c := slices.Clone(list)
	sort.SliceStable(c, func(i, j int) bool { return key(c[i]) < key(c[j]) })
	return c
}

// lookup calls fn on every validator reachable at path (through objects and unions) and reports
// whether fn held for any of them; `any` holds everything. An object without the path's next
// key yields missing: the backend's can_contain_field treats it as impossible, its vector
// check (overlaps_with_array_float64) as possible.
func lookup(v validator, path []string, missing bool, fn func(validator) bool) bool {
	switch v.Type {
	case "any":
		return true
	case "union":
		var members []validator
		if json.Unmarshal(v.Value, &members) != nil {
			return false
		}
		for _, m := range members {
			if lookup(m, path, missing, fn) {
				return true
			}
		}
		return false
	}
	if len(path) == 0 {
		return fn(v)
	}
	if v.Type != "object" {
		return false
	}
	var fields map[string]objectField
	if json.Unmarshal(v.Value, &fields) != nil {
		return false
	}
	f, ok := fields[path[0]]
	if !ok {
		return missing
	}
	return lookup(f.FieldType, path[1:], missing, fn)
}

func canContain(doc validator, path []string) bool {
	if len(path) == 1 && strings.HasPrefix(path[0], "_") {
		return true // system fields
	}
	return lookup(doc, path, false, func(validator) bool { return true })
}

func vectorEligible(doc validator, path []string) bool {
	return lookup(doc, path, true, func(v validator) bool {
		if v.Type != "array" {
			return false
		}
		var elem validator
		if json.Unmarshal(v.Value, &elem) != nil {
			return false
		}
		return elem.Type == "number" || elem.Type == "any"
	})
}

// decodeSchema parses the text a schema's export() returned.
func decodeSchema(raw json.RawMessage) (*schemaJSON, *apiError) {
	var s schemaJSON
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, schemaError("InvalidSchemaExport", "Default export from schema file isn't a Convex schema. "+schemaDocs)
	}
	return &s, nil
}
