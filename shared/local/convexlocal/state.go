package convexlocal

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Module is one pushed function module, kept in memory with its source.
type Module struct {
	Path        string `json:"path"`
	Environment string `json:"environment"`
	// Hash is sha256 hex over Source followed by SourceMap, as the CLI computes it.
	Hash      string `json:"hash"`
	Source    string `json:"-"`
	SourceMap string `json:"-"`
}

// deployment is the committed state plus the pushes started but not finished.
type deployment struct {
	modules          map[string]Module
	functions        map[string][]analyzedFunction // by module path
	schema           *schemaJSON
	udfServerVersion *string
	pushCount        int
	pending          map[string]*pendingPush
	latest           string // schema id of the newest start_push; older ones lost the race
	nextID           int
}

func newDeployment() deployment {
	return deployment{modules: map[string]Module{}, functions: map[string][]analyzedFunction{}, pending: map[string]*pendingPush{}}
}

// pendingPush is what start_push prepared and finish_push commits.
type pendingPush struct {
	id               string
	modules          map[string]Module
	functions        map[string][]analyzedFunction
	schema           *schemaJSON
	diff             IndexDiff
	udfServerVersion string
	polls            int
}

// State is the read-only introspection view of a deployment (GET /_local/state). It never
// contains a key.
type State struct {
	InstanceName     string       `json:"instanceName"`
	PushCount        int          `json:"pushCount"`
	UDFServerVersion string       `json:"udfServerVersion,omitempty"`
	SchemaValidation bool         `json:"schemaValidation"`
	Tables           []Table      `json:"tables"`
	Functions        []Function   `json:"functions"`
	Modules          []ModuleHash `json:"modules"`
}

// Table is a deployed table and its indexes.
type Table struct {
	Name    string       `json:"name"`
	Indexes []TableIndex `json:"indexes"`
}

// TableIndex is one index of a table; Kind is KindDatabase, KindSearch or KindVector.
type TableIndex struct {
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Fields       []string `json:"fields,omitempty"`
	SearchField  string   `json:"searchField,omitempty"`
	VectorField  string   `json:"vectorField,omitempty"`
	Dimensions   int      `json:"dimensions,omitempty"`
	FilterFields []string `json:"filterFields,omitempty"`
	Staged       bool     `json:"staged,omitempty"`
}

// Function is a deployed function: Path is `module:export` (`functions:ping`), UDFType is
// Query, Mutation or Action, Visibility is public or internal.
type Function struct {
	Path       string `json:"path"`
	UDFType    string `json:"udfType"`
	Visibility string `json:"visibility"`
}

// ModuleHash is a stored module's path, environment and hash.
type ModuleHash struct {
	Path        string `json:"path"`
	Environment string `json:"environment"`
	Hash        string `json:"hash"`
}

// Request records one request the deployment answered: for pushes, which modules arrived in
// full and which by hash. It never holds a key or a body.
type Request struct {
	Method           string   `json:"method"`
	Path             string   `json:"path"`
	Status           int      `json:"status"`
	DryRun           bool     `json:"dryRun,omitempty"`
	ChangedModules   []string `json:"changedModules,omitempty"`
	UnchangedModules []string `json:"unchangedModules,omitempty"`
}

// State returns a snapshot of the committed deployment.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{InstanceName: s.opts.InstanceName, PushCount: s.st.pushCount, Tables: []Table{}, Functions: []Function{}, Modules: []ModuleHash{}}
	if v := s.st.udfServerVersion; v != nil {
		st.UDFServerVersion = *v
	}
	if sc := s.st.schema; sc != nil {
		st.SchemaValidation = sc.SchemaValidation
		for _, t := range sc.Tables {
			tb := Table{Name: t.TableName, Indexes: []TableIndex{}}
			for _, ix := range t.indexes() {
				tb.Indexes = append(tb.Indexes, TableIndex{
					Name: strings.TrimPrefix(ix.Name, t.TableName+"."), Kind: ix.Type, Fields: ix.Fields,
					SearchField: ix.SearchField, VectorField: ix.VectorField, Dimensions: ix.Dimensions,
					FilterFields: ix.FilterFields, Staged: ix.Staged,
				})
			}
			st.Tables = append(st.Tables, tb)
		}
	}
	for _, m := range sortedModules(s.st.modules) {
		st.Modules = append(st.Modules, ModuleHash{Path: m.Path, Environment: m.Environment, Hash: m.Hash})
		for _, f := range s.st.functions[m.Path] {
			fn := Function{Path: strings.TrimSuffix(m.Path, ".js") + ":" + f.Name, UDFType: f.UDFType}
			if f.Visibility != nil {
				fn.Visibility = f.Visibility.Kind
			}
			st.Functions = append(st.Functions, fn)
		}
	}
	return st
}

// Requests returns the requests answered so far, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func sortedModules(m map[string]Module) []Module {
	out := make([]Module, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

type recordKey struct{}

// record is the request record of the current request, for handlers to fill in.
func record(ctx context.Context) *Request {
	if r, ok := ctx.Value(recordKey{}).(*Request); ok {
		return r
	}
	return &Request{}
}

func (s *Server) localState(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.State())
}

func (s *Server) localRequests(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Requests())
}
