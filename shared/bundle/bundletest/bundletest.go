// Package bundletest checks, for tests in any package, that a local Convex deployment
// (shared/local/convexlocal) runs the BYOD package of this build: every table and index of
// bundle.ExpectedSchema, exactly, and the public query functions:ping.
package bundletest

import (
	"encoding/json"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/bundle"
	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// ExpectedTables returns bundle.ExpectedSchema in the shape of the local deployment's state, in
// its order (per table: database, search, then vector indexes). It fails the test if the
// embedded schema cannot be read.
func ExpectedTables(tb testing.TB) []convexlocal.Table {
	tb.Helper()
	s, err := bundle.ExpectedSchema()
	if err != nil {
		tb.Fatal(err)
	}
	var out []convexlocal.Table
	for _, t := range s.Tables {
		tbl := convexlocal.Table{Name: t.TableName, Indexes: []convexlocal.TableIndex{}}
		for _, ix := range t.Indexes {
			tbl.Indexes = append(tbl.Indexes, convexlocal.TableIndex{
				Name: ix.IndexDescriptor, Kind: convexlocal.KindDatabase, Fields: ix.Fields})
		}
		for _, ix := range t.SearchIndexes {
			tbl.Indexes = append(tbl.Indexes, convexlocal.TableIndex{
				Name: ix.IndexDescriptor, Kind: convexlocal.KindSearch, SearchField: ix.SearchField,
				FilterFields: ix.FilterFields})
		}
		for _, ix := range t.VectorIndexes {
			tbl.Indexes = append(tbl.Indexes, convexlocal.TableIndex{
				Name: ix.IndexDescriptor, Kind: convexlocal.KindVector, VectorField: ix.VectorField,
				Dimensions: ix.Dimensions, FilterFields: ix.FilterFields})
		}
		out = append(out, tbl)
	}
	return out
}

// CheckDeployed reports (tb.Errorf, not fatal) every way st differs from a deployment running
// this build's package: schema validation off, a table or index missing, extra or different,
// or functions:ping missing or not a public query.
func CheckDeployed(tb testing.TB, st convexlocal.State) {
	tb.Helper()
	if !st.SchemaValidation {
		tb.Errorf("deployment %s: schemaValidation is off", st.InstanceName)
	}
	want := ExpectedTables(tb)
	got := map[string]convexlocal.Table{}
	for _, t := range st.Tables {
		got[t.Name] = t
	}
	if len(st.Tables) != len(want) {
		tb.Errorf("deployment %s has %d tables, want %d", st.InstanceName, len(st.Tables), len(want))
	}
	for _, w := range want {
		g, ok := got[w.Name]
		if !ok {
			tb.Errorf("deployment %s: table %s missing", st.InstanceName, w.Name)
			continue
		}
		// JSON treats a nil and an empty list alike, as the state's omitempty tags do.
		if gj, wj := mustJSON(tb, g), mustJSON(tb, w); gj != wj {
			tb.Errorf("deployment %s: table %s\n got: %s\nwant: %s", st.InstanceName, w.Name, gj, wj)
		}
	}
	for _, f := range st.Functions {
		if f.Path == "functions:ping" {
			if f.UDFType != "Query" || f.Visibility != "public" {
				tb.Errorf("deployment %s: functions:ping is %s %s, want a public Query", st.InstanceName, f.Visibility, f.UDFType)
			}
			return
		}
	}
	tb.Errorf("deployment %s: functions:ping not deployed (functions %+v)", st.InstanceName, st.Functions)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
