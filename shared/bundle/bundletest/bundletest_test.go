package bundletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/byod-deployer/byod-deployer/shared/local/convexlocal"
)

// recorder is a testing.TB that collects Errorf messages instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

// deployedState is the state of a deployment that runs the package exactly.
func deployedState(t testing.TB) convexlocal.State {
	t.Helper()
	return convexlocal.State{
		InstanceName:     "local",
		SchemaValidation: true,
		Tables:           ExpectedTables(t),
		Functions:        []convexlocal.Function{{Path: "functions:ping", UDFType: "Query", Visibility: "public"}},
	}
}

func TestCheckDeployed(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(st *convexlocal.State)
		want   string // "" = no error
	}{
		{"exact package", func(*convexlocal.State) {}, ""},
		{"schema validation off", func(st *convexlocal.State) { st.SchemaValidation = false }, "schemaValidation is off"},
		{"table missing", func(st *convexlocal.State) { st.Tables = st.Tables[1:] }, "table conversations missing"},
		{"extra table", func(st *convexlocal.State) {
			st.Tables = append(st.Tables, convexlocal.Table{Name: "extra"})
		}, "has 10 tables, want 9"},
		{"vector dimensions differ", func(st *convexlocal.State) {
			for i, ix := range st.Tables[1].Indexes {
				if ix.Kind == convexlocal.KindVector {
					st.Tables[1].Indexes[i].Dimensions = 768
				}
			}
		}, "table messages"},
		{"index missing", func(st *convexlocal.State) {
			st.Tables[8].Indexes = st.Tables[8].Indexes[1:]
		}, "table usageRecords"},
		{"ping missing", func(st *convexlocal.State) { st.Functions = nil }, "functions:ping not deployed"},
		{"ping is a mutation", func(st *convexlocal.State) { st.Functions[0].UDFType = "Mutation" }, "want a public Query"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := deployedState(t)
			tc.mutate(&st)
			r := &recorder{TB: t}
			CheckDeployed(r, st)
			if tc.want == "" {
				if len(r.errs) != 0 {
					t.Errorf("CheckDeployed reported %q for the exact package", r.errs)
				}
				return
			}
			if !strings.Contains(strings.Join(r.errs, "\n"), tc.want) {
				t.Errorf("CheckDeployed reported %q, want a message containing %q", r.errs, tc.want)
			}
		})
	}
}
