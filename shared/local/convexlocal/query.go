package convexlocal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// parseUDFPath splits `module:export` (module with or without `.js`; no export means
// `default`) into the stored module path and the export name.
func parseUDFPath(p string) (module, name string, ok bool) {
	module, name, found := strings.Cut(p, ":")
	if !found {
		name = "default"
	}
	if strings.Contains(name, ":") || name == "" || module == "" {
		return "", "", false
	}
	for i, r := range name {
		letter := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return "", "", false
		}
	}
	module = strings.TrimSuffix(module, ".js") + ".js"
	if !safeModulePath(module) {
		return "", "", false
	}
	return module, name, true
}

type callRequest struct {
	Path   string          `json:"path"`
	Args   json.RawMessage `json:"args"`
	Format string          `json:"format"`
}

// callArgs accepts the args as an object or as a one-element array holding the object.
func callArgs(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}"), true
	}
	if raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) != 1 {
			return nil, false
		}
		raw = bytes.TrimSpace(list[0])
	}
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	return raw, true
}

// query answers POST /api/query: public queries only.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, false)
}

// function answers POST /api/function (`convex run`): public queries and mutations, and
// internal ones when the request carries the admin key.
func (s *Server) function(w http.ResponseWriter, r *http.Request) {
	s.call(w, r, true)
}

// call runs a function. A request without an admin key is a public call, as on a real
// deployment; one whose `Authorization: Convex` header carries a wrong key is refused with 401
// BadAdminKey before anything else, as the backend authenticates it first.
func (s *Server) call(w http.ResponseWriter, r *http.Request, anyKind bool) {
	key, admin := adminHeader(r)
	if admin && !s.keyOK(key) {
		writeError(w, errBadAdminKey)
		return
	}
	var req callRequest
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return
	}
	module, name, ok := parseUDFPath(req.Path)
	if !ok {
		writeError(w, &apiError{Status: 400, Code: "BadConvexFunctionIdentifier", Message: fmt.Sprintf("Couldn't parse function path %q", req.Path)})
		return
	}
	args, ok := callArgs(req.Args)
	if !ok {
		writeError(w, &apiError{Status: 400, Code: "InvalidArgs", Message: "Function arguments must be an object or an array holding one object."})
		return
	}
	s.mu.Lock()
	var fn *analyzedFunction
	for _, f := range s.st.functions[module] {
		if f.Name == name {
			fn = &f
			break
		}
	}
	modules := s.st.modules
	s.mu.Unlock()

	notFound := callResult{Status: "error", ErrorMessage: fmt.Sprintf("Could not find public function for '%s'.", req.Path)}
	public := fn != nil && fn.Visibility != nil && fn.Visibility.Kind == "public"
	var argsErr string
	if fn != nil {
		argsErr = checkArgs(fn.Args, args)
	}
	// The backend's order: the function must exist (and be callable with this key), be of the
	// endpoint's kind, and get valid arguments.
	switch {
	case fn == nil || (!public && !(anyKind && admin)):
		writeJSON(w, http.StatusOK, notFound)
		return
	case !anyKind && fn.UDFType != "Query":
		writeJSON(w, http.StatusOK, callResult{Status: "error", ErrorMessage: fmt.Sprintf("Trying to execute %s:%s as Query, but it is defined as %s.", module, name, fn.UDFType)})
		return
	case argsErr != "":
		writeJSON(w, http.StatusOK, callResult{Status: "error", ErrorMessage: argsErrorPrefix + argsErr})
		return
	case fn.UDFType == "Action":
		writeJSON(w, http.StatusOK, callResult{Status: "error", ErrorMessage: "Actions cannot run on the local Convex deployment."})
		return
	}
	var res callResult
	ereq := evalRequest{Op: "call", Module: module, Name: name, UDFPath: req.Path, Args: args}
	if err := s.eval.run(r.Context(), modules, ereq, &res); err != nil {
		s.log.Error("run function", "path", req.Path, "err", err)
		writeError(w, errInternal)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
