package convexlocal

import (
	"fmt"
	"net/http"
)

// The control-plane calls of the deploy-key flow (`CONVEX_DEPLOY_KEY=prod:<name>|<secret>` with
// CONVEX_PROVISION_HOST and CONVEX_VERSION_API_ORIGIN pointed at this server). The deployment
// answers for itself: the key must be its admin key and name its instance.

func (s *Server) deployKey(w http.ResponseWriter, r *http.Request) bool {
	var req struct {
		DeployKey string `json:"deployKey"`
	}
	if e := decodeJSON(r, &req); e != nil {
		writeError(w, e)
		return false
	}
	if !s.keyOK(req.DeployKey) || keyName(req.DeployKey) != s.opts.InstanceName {
		writeError(w, &apiError{Status: 403, Code: "BadDeployKey", Message: fmt.Sprintf(
			"The provided deploy key was invalid for deployment '%s'. Double check that the environment this key was generated for matches the desired deployment.", keyName(req.DeployKey))})
		return false
	}
	return true
}

// urlForKey answers the deployment URL as a bare JSON string.
func (s *Server) urlForKey(w http.ResponseWriter, r *http.Request) {
	if s.deployKey(w, r) {
		writeJSON(w, http.StatusOK, s.URL())
	}
}

func (s *Server) teamAndProjectForKey(w http.ResponseWriter, r *http.Request) {
	if s.deployKey(w, r) {
		writeJSON(w, http.StatusOK, map[string]any{
			"team": "local", "project": s.opts.InstanceName, "teamId": 1, "projectId": 1,
			"reference": nil, "isDefault": true,
		})
	}
}

// version answers the version API: no upgrade message.
func (s *Server) version(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"message": nil})
}
