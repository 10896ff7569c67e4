package convexlocal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

// moduleJSON is a module as the CLI pushes it.
type moduleJSON struct {
	Path        string `json:"path"`
	Source      string `json:"source"`
	SourceMap   string `json:"sourceMap"`
	Environment string `json:"environment"`
}

type unchangedJSON struct {
	Path        string `json:"path"`
	Environment string `json:"environment"`
	SHA256      string `json:"sha256"`
}

// pushRequest is the body of evaluate_schema, evaluate_push and start_push (docs/convex-protocol.md, "POST /api/deploy2/start_push").
type pushRequest struct {
	AdminKey      string `json:"adminKey"`
	DryRun        bool   `json:"dryRun"`
	Functions     string `json:"functions"`
	AppDefinition struct {
		Definition            *moduleJSON       `json:"definition"`
		Dependencies          []json.RawMessage `json:"dependencies"`
		Schema                *moduleJSON       `json:"schema"`
		ChangedModules        []moduleJSON      `json:"changedModules"`
		UnchangedModuleHashes []unchangedJSON   `json:"unchangedModuleHashes"`
		UDFServerVersion      string            `json:"udfServerVersion"`
	} `json:"appDefinition"`
	ComponentDefinitions []json.RawMessage `json:"componentDefinitions"`
}

// prepared is a push request checked against the deployment: its full module set, its evaluated
// and validated schema and the index diff against the active schema.
type prepared struct {
	modules   map[string]Module
	functions map[string][]analyzedFunction
	schema    *schemaJSON
	diff      IndexDiff
	active    []Index
}

// moduleHash is sha256 hex over source followed by sourceMap.
func moduleHash(source, sourceMap string) string {
	h := sha256.New()
	h.Write([]byte(source))
	h.Write([]byte(sourceMap))
	return hex.EncodeToString(h.Sum(nil))
}

func safeModulePath(p string) bool {
	return p != "" && !strings.HasPrefix(p, "/") && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".." &&
		!strings.Contains(p, "\\")
}

// isDepsChunk reports whether a module is a shared bundle chunk rather than a function module.
func isDepsChunk(p string) bool { return strings.HasPrefix(p, "_deps/") }

// readPush decodes and authorizes a push body, recording which modules arrived in full and which
// by hash.
func (s *Server) readPush(r *http.Request) (*pushRequest, *apiError) {
	var req pushRequest
	if e := decodeJSON(r, &req); e != nil {
		return nil, e
	}
	if e := s.authorize(r, req.AdminKey); e != nil {
		return nil, e
	}
	rec := record(r.Context())
	rec.DryRun = req.DryRun
	for _, m := range req.AppDefinition.ChangedModules {
		rec.ChangedModules = append(rec.ChangedModules, m.Path)
	}
	for _, m := range req.AppDefinition.UnchangedModuleHashes {
		rec.UnchangedModules = append(rec.UnchangedModules, m.Path)
	}
	return &req, nil
}

// prepare checks a push: module set, schema evaluation in Node, schema rules, index diff. With
// analyze it also lists the functions of every module. It changes no state.
func (s *Server) prepare(r *http.Request, req *pushRequest, analyze bool) (*prepared, *apiError) {
	if len(req.ComponentDefinitions) > 0 || len(req.AppDefinition.Dependencies) > 0 {
		return nil, &apiError{Status: 400, Code: "InvalidConfig", Message: "Hit an error while pushing:\nComponents are not supported by the local Convex deployment."}
	}
	s.mu.Lock()
	stored := s.st.modules
	activeSchema := s.st.schema
	s.mu.Unlock()

	p := &prepared{modules: map[string]Module{}, functions: map[string][]analyzedFunction{}, active: activeSchema.indexes()}
	for _, m := range req.AppDefinition.ChangedModules {
		if !safeModulePath(m.Path) {
			return nil, &apiError{Status: 400, Code: "InvalidConfig", Message: fmt.Sprintf("Hit an error while pushing:\nInvalid module path %q", m.Path)}
		}
		p.modules[m.Path] = Module{Path: m.Path, Environment: m.Environment, Hash: moduleHash(m.Source, m.SourceMap), Source: m.Source, SourceMap: m.SourceMap}
	}
	for _, u := range req.AppDefinition.UnchangedModuleHashes {
		old, ok := stored[u.Path]
		if !ok || old.Hash != u.SHA256 || old.Environment != u.Environment {
			return nil, &apiError{Status: 400, Code: "InvalidConfig", Message: fmt.Sprintf("Hit an error while pushing:\nModule %s with hash %s is not stored on this deployment; push it in full.", u.Path, u.SHA256)}
		}
		p.modules[u.Path] = old
	}

	ereq := evalRequest{Op: "analyze"}
	files := map[string]Module{}
	if sc := req.AppDefinition.Schema; sc != nil {
		ereq.Schema = "schema.js"
		files["schema.js"] = Module{Path: "schema.js", Source: sc.Source}
	}
	if analyze {
		for pth, m := range p.modules {
			files[pth] = m
			if !isDepsChunk(pth) {
				ereq.Analyze = append(ereq.Analyze, pth)
			}
		}
		sort.Strings(ereq.Analyze)
	}
	if ereq.Schema == "" && len(ereq.Analyze) == 0 {
		p.diff = diffIndexes(p.active, nil)
		return p, nil
	}
	var res analyzeResult
	if err := s.eval.run(r.Context(), files, ereq, &res); err != nil {
		s.log.Error("evaluate pushed modules", "err", err)
		return nil, errInternal
	}
	if sr := res.Schema; sr != nil {
		switch sr.Error {
		case "":
		case "missingDefault":
			return nil, schemaError("MissingSchemaExportError", "Schema file missing default export. "+schemaDocs)
		case "invalidExport":
			return nil, schemaError("InvalidSchemaExport", "Default export from schema file isn't a Convex schema. "+schemaDocs)
		default:
			return nil, schemaError("InvalidSchema", sr.Message)
		}
		sc, e := decodeSchema(sr.Schema)
		if e != nil {
			return nil, e
		}
		if e := validateSchema(sc); e != nil {
			return nil, e
		}
		p.schema = sc
	}
	for _, pth := range ereq.Analyze {
		mr := res.Modules[pth]
		if mr.Error != "" {
			return nil, &apiError{Status: 400, Code: "InvalidModules", Message: fmt.Sprintf("Hit an error while pushing:\nLoading the pushed modules encountered the following\n    error:\nFailed to analyze %s: %s", pth, mr.Error)}
		}
		p.functions[pth] = mr.Functions
	}
	p.diff = diffIndexes(p.active, p.schema.indexes())
	return p, nil
}

func (s *Server) newSchemaID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.nextID++
	return fmt.Sprintf("localSchema%d", s.st.nextID)
}

func schemaChange(id string, diff IndexDiff) map[string]any {
	var sid any
	if id != "" {
		sid = id
	}
	return map[string]any{
		"allocatedComponentIds": map[string]any{},
		"schemaIds":             map[string]any{"": sid},
		"indexDiffs":            map[string]any{"": diff},
	}
}

func (s *Server) getConfigHashes(w http.ResponseWriter, r *http.Request) {
	var req keyed
	if !s.readKeyed(w, r, &req) {
		return
	}
	s.mu.Lock()
	hashes := []ModuleHash{}
	for _, m := range sortedModules(s.st.modules) {
		hashes = append(hashes, ModuleHash{Path: m.Path, Hash: m.Hash, Environment: m.Environment})
	}
	version := s.st.udfServerVersion
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"config":           map[string]any{"functions": "convex/", "authInfo": []any{}},
		"moduleHashes":     hashes,
		"udfServerVersion": version,
		"nodeVersion":      nil,
	})
}

// checkedPush reads, authorizes and prepares a push body for evaluate_schema, evaluate_push
// (start false) or start_push (start true), applying the failure modes; on failure it has
// answered the request and returns ok false.
func (s *Server) checkedPush(w http.ResponseWriter, r *http.Request, start bool) (req *pushRequest, p *prepared, ok bool) {
	req, e := s.readPush(r)
	switch {
	case e != nil:
	case s.opts.Fail == FailForbidden:
		e = errForbidden
	case start && s.opts.Fail == FailStartPush500:
		e = errInternal
	default:
		p, e = s.prepare(r, req, start)
	}
	if e != nil {
		writeError(w, e)
		return nil, nil, false
	}
	return req, p, true
}

func (s *Server) evaluateSchema(w http.ResponseWriter, r *http.Request) {
	_, p, ok := s.checkedPush(w, r, false)
	if !ok {
		return
	}
	indexes := []map[string]any{}
	add := func(ix Index, change string) {
		m := ix.wire()
		m["change"] = change
		m["needsBackfill"] = (change == "added" || change == "enabled") && !ix.Staged
		m["numDocs"] = 0
		indexes = append(indexes, m)
	}
	changed := map[string]string{}
	for _, ix := range p.diff.Added {
		changed[ix.Name] = "added"
	}
	for _, ix := range p.diff.Enabled {
		changed[ix.Name] = "enabled"
	}
	for _, ix := range p.diff.Disabled {
		changed[ix.Name] = "disabled"
	}
	tables := []map[string]any{}
	validation := false
	if p.schema != nil {
		validation = p.schema.SchemaValidation
		for _, t := range p.schema.Tables {
			tables = append(tables, map[string]any{"name": t.TableName, "outcome": "supersetOfShape", "numDocs": 0, "sizeBytes": 0})
		}
	}
	for _, ix := range p.schema.indexes() {
		c, ok := changed[ix.Name]
		if !ok {
			c = "identical"
		}
		add(ix, c)
	}
	for _, ix := range p.diff.Removed {
		if _, readded := changed[ix.Name]; !readded {
			add(ix, "dropped")
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"componentSchemaEvaluations": map[string]any{"": map[string]any{
			"definitionPath": "", "schemaValidation": validation, "tables": tables, "indexes": indexes,
			"discardedStagedValidators": []any{},
		}},
		"newComponentDefinitions": []any{},
	})
}

func (s *Server) evaluatePush(w http.ResponseWriter, r *http.Request) {
	_, p, ok := s.checkedPush(w, r, false)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"schemaChange": schemaChange(s.newSchemaID(), p.diff)})
}

func (s *Server) startPush(w http.ResponseWriter, r *http.Request) {
	req, p, ok := s.checkedPush(w, r, true)
	if !ok {
		return
	}
	id := s.newSchemaID()
	version := req.AppDefinition.UDFServerVersion
	s.mu.Lock()
	// Like the backend's single pending schema, a new push supersedes every unfinished one.
	clear(s.st.pending)
	s.st.pending[id] = &pendingPush{id: id, modules: p.modules, functions: p.functions, schema: p.schema, diff: p.diff, udfServerVersion: version}
	s.st.latest = id
	s.mu.Unlock()

	functions := map[string]any{}
	for pth, fns := range p.functions {
		list := []map[string]any{}
		for _, f := range fns {
			list = append(list, map[string]any{"name": f.Name, "pos": nil, "udfType": f.UDFType, "visibility": f.Visibility, "args": f.Args, "returns": f.Returns})
		}
		functions[pth] = map[string]any{"functions": list, "httpRoutes": nil, "cronSpecs": nil, "sourceMapped": nil}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"environmentVariables":        map[string]any{},
		"externalDepsId":              nil,
		"componentDefinitionPackages": map[string]any{"": map[string]any{"storageKey": "local-" + id, "sha256": "local"}},
		"appAuth":                     []any{},
		"analysis": map[string]any{"": map[string]any{
			"definition": map[string]any{"path": "", "definitionType": map[string]any{"type": "app"}, "childComponents": []any{},
				"httpMounts": map[string]any{}, "exports": map[string]any{"type": "branch", "branch": []any{}}},
			"schema":    analysisSchema(p.schema),
			"functions": functions,
			"udfConfig": udfConfig(version),
		}},
		"app": map[string]any{"definitionPath": "", "componentPath": "", "args": map[string]any{}, "childComponents": map[string]any{},
			"httpRoutes": map[string]any{"httpModuleRoutes": nil, "mounts": []any{}}, "exports": map[string]any{}},
		"schemaChange": schemaChange(id, p.diff),
	})
}

// analysisSchema is the schema as the backend reports it back: database indexes end with the
// implicit _creationTime field.
func analysisSchema(sc *schemaJSON) any {
	if sc == nil {
		return nil
	}
	tables := []map[string]any{}
	for _, t := range sc.Tables {
		idx := []map[string]any{}
		for _, ix := range t.Indexes {
			idx = append(idx, map[string]any{"indexDescriptor": ix.IndexDescriptor, "fields": append(nonNil(ix.Fields)[:len(ix.Fields):len(ix.Fields)], "_creationTime")})
		}
		search := []searchIndexJSON{}
		for _, ix := range t.SearchIndexes {
			ix.FilterFields = nonNil(ix.FilterFields)
			search = append(search, ix)
		}
		vector := []vectorIndexJSON{}
		for _, ix := range t.VectorIndexes {
			ix.FilterFields = nonNil(ix.FilterFields)
			vector = append(vector, ix)
		}
		doc := t.DocumentType
		if len(doc) == 0 {
			doc = json.RawMessage("null")
		}
		tables = append(tables, map[string]any{"tableName": t.TableName, "indexes": idx, "searchIndexes": search, "vectorIndexes": vector, "documentType": doc})
	}
	return map[string]any{"tables": tables, "schemaValidation": sc.SchemaValidation}
}

// udfConfig is the backend's import-phase configuration in its Convex-JSON encoding.
func udfConfig(version string) map[string]any {
	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	ts := make([]byte, 8)
	binary.LittleEndian.PutUint64(ts, uint64(time.Now().UnixMilli()))
	return map[string]any{
		"serverVersion":            version,
		"importPhaseRngSeed":       map[string]string{"$bytes": base64.StdEncoding.EncodeToString(seed)},
		"importPhaseUnixTimestamp": map[string]string{"$integer": base64.StdEncoding.EncodeToString(ts)},
	}
}

type schemaChangeJSON struct {
	SchemaIDs map[string]*string `json:"schemaIds"`
}

func (c schemaChangeJSON) id() string {
	if p := c.SchemaIDs[""]; p != nil {
		return *p
	}
	return ""
}

func (s *Server) waitForSchema(w http.ResponseWriter, r *http.Request) {
	var req struct {
		keyed
		SchemaChange schemaChangeJSON `json:"schemaChange"`
		TimeoutMs    int              `json:"timeoutMs"`
		DryRun       bool             `json:"dryRun"`
	}
	if !s.readKeyed(w, r, &req) {
		return
	}
	record(r.Context()).DryRun = req.DryRun
	id := req.SchemaChange.id()
	s.mu.Lock()
	p := s.st.pending[id]
	lost := p == nil || id != s.st.latest
	var polls, total int
	if p != nil {
		p.polls++
		polls = p.polls
		total = len(p.diff.Added) + len(p.diff.Enabled)
	}
	s.mu.Unlock()

	switch {
	case lost || s.opts.Fail == FailRace:
		writeJSON(w, http.StatusOK, map[string]any{"type": "raceDetected"})
	case polls <= s.opts.BackfillSteps:
		delay := s.opts.BackfillStepDelay
		if req.TimeoutMs > 0 {
			delay = min(delay, time.Duration(req.TimeoutMs)*time.Millisecond)
		}
		if !s.wait(r.Context(), delay) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"type": "inProgress", "components": map[string]any{"": map[string]any{
			"schemaValidationComplete": false,
			"indexesComplete":          total * (polls - 1) / s.opts.BackfillSteps,
			"indexesTotal":             total,
		}}})
	case s.opts.Fail == FailSchema:
		table, msg := schemaFailure(p.schema)
		var tn any
		if table != "" {
			tn = table
		}
		writeJSON(w, http.StatusOK, map[string]any{"type": "failed", "error": msg, "componentPath": "", "tableName": tn})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"type": "complete"})
	}
}

// schemaFailure is the message a backend gives when an existing document does not match the new
// schema: it names the first table with a required field and that field.
func schemaFailure(sc *schemaJSON) (table, message string) {
	const id = "k57a0b1c2d3e4f5g6h7j8k9m0n1p2q3r"
	if sc != nil {
		for _, t := range sc.Tables {
			var doc validator
			if json.Unmarshal(t.DocumentType, &doc) != nil || doc.Type != "object" {
				continue
			}
			var fields map[string]objectField
			if json.Unmarshal(doc.Value, &fields) != nil {
				continue
			}
			names := make([]string, 0, len(fields))
			for n, f := range fields {
				if !f.Optional {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			if len(names) > 0 {
				return t.TableName, fmt.Sprintf("Document with ID %q in table %q does not match the schema: Object is missing the required field `%s`.", id, t.TableName, names[0])
			}
		}
		if len(sc.Tables) > 0 {
			t := sc.Tables[0].TableName
			return t, fmt.Sprintf("Document with ID %q in table %q does not match the schema: Object contains extra field `legacy` that is not in the validator.", id, t)
		}
	}
	return "", "Schema validation failed: the existing data does not match the new schema."
}

func (s *Server) finishPush(w http.ResponseWriter, r *http.Request) {
	var req struct {
		keyed
		StartPush struct {
			SchemaChange schemaChangeJSON `json:"schemaChange"`
		} `json:"startPush"`
		DryRun bool `json:"dryRun"`
	}
	if !s.readKeyed(w, r, &req) {
		return
	}
	if s.opts.Fail == FailForbidden {
		writeError(w, errForbidden)
		return
	}
	record(r.Context()).DryRun = req.DryRun
	id := req.StartPush.SchemaChange.id()
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.st.pending[id]
	if p == nil || id != s.st.latest {
		writeError(w, &apiError{Status: 409, Code: "RaceDetected", Message: "Another push started while this one was in progress; this push was not applied."})
		return
	}
	delete(s.st.pending, id)
	if req.DryRun {
		writeJSON(w, http.StatusOK, map[string]any{"authDiff": map[string]any{"added": []any{}, "removed": []any{}}, "definitionDiffs": map[string]any{}, "componentDiffs": map[string]any{}})
		return
	}
	added, removed := []string{}, []string{}
	for pth := range p.modules {
		if _, ok := s.st.modules[pth]; !ok {
			added = append(added, pth)
		}
	}
	for pth := range s.st.modules {
		if _, ok := p.modules[pth]; !ok {
			removed = append(removed, pth)
		}
	}
	sort.Strings(added)
	sort.Strings(removed)
	diffType := "modify"
	if s.st.pushCount == 0 {
		diffType = "create"
	}
	var udfDiff any
	if prev := s.st.udfServerVersion; prev != nil && *prev != p.udfServerVersion {
		udfDiff = map[string]string{"previous_version": *prev, "next_version": p.udfServerVersion}
	}
	s.st.modules = p.modules
	s.st.functions = p.functions
	s.st.schema = p.schema
	v := p.udfServerVersion
	s.st.udfServerVersion = &v
	s.st.pushCount++
	writeJSON(w, http.StatusOK, map[string]any{
		"authDiff":        map[string]any{"added": []any{}, "removed": []any{}},
		"definitionDiffs": map[string]any{},
		"componentDiffs": map[string]any{"": map[string]any{
			"diffType":      map[string]any{"type": diffType},
			"moduleDiff":    map[string]any{"added": added, "removed": removed},
			"udfConfigDiff": udfDiff,
			"cronDiff":      map[string]any{"added": []any{}, "updated": []any{}, "deleted": []any{}},
			"indexDiff":     p.diff,
			"schemaDiff":    nil,
		}},
	})
}

func (s *Server) reportPushCompleted(w http.ResponseWriter, r *http.Request) {
	var req keyed
	if !s.readKeyed(w, r, &req) {
		return
	}
	writeJSON(w, http.StatusOK, nil)
}

func (s *Server) canonicalURLs(w http.ResponseWriter, r *http.Request) {
	if e := s.authorize(r, ""); e != nil {
		writeError(w, e)
		return
	}
	u := s.URL()
	writeJSON(w, http.StatusOK, map[string]string{"convexCloudUrl": u, "convexSiteUrl": u})
}

func (s *Server) instanceName(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, s.opts.InstanceName)
}

func (s *Server) checkAdminKey(w http.ResponseWriter, r *http.Request) {
	if e := s.authorize(r, ""); e != nil {
		writeError(w, e)
		return
	}
	if s.opts.Fail == FailForbidden {
		writeError(w, errForbidden)
		return
	}
	w.WriteHeader(http.StatusOK)
}
