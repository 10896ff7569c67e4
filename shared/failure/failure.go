// Package failure names the ways a deploy request can fail. A Class is what the status record
// stores as errorClass, what the browser receives, and the DeploymentsFailed metric's dimension;
// Class.Hint is what the user is told to do about it. The deploy engine (shared/deploy), the
// status store (shared/status), the deployer and deadletter all speak these words; the package
// imports nothing, so any of them can.
//
// The values are a wire format (docs/messages.md, the status page): never change one.
package failure

// Class is the kind of a failure: what the user is told and which hint goes with it. Whether a
// retry can help is decided per failure, not per class.
type Class string

// The failures of a deploy (shared/deploy's Engine.Deploy).
const (
	InvalidDeployKey       Class = "invalid_deploy_key"
	PermissionDenied       Class = "permission_denied"
	TimedOut               Class = "timed_out"
	SchemaValidationFailed Class = "schema_validation_failed"
	Unreachable            Class = "unreachable"
	ConcurrentPush         Class = "concurrent_push"
	InvalidTarget          Class = "invalid_target"
	// Internal is everything else, including a request dead-lettered after repeated attempts.
	Internal Class = "internal"
)

// The failures of a request that never reaches the engine (the deployer's).
const (
	InvalidMessage     Class = "invalid_message"
	InvalidCredentials Class = "invalid_credentials"
	UnsupportedVersion Class = "unsupported_version"
)

// Classes lists every class, in the order above.
var Classes = []Class{
	InvalidDeployKey, PermissionDenied, TimedOut, SchemaValidationFailed, Unreachable, ConcurrentPush,
	InvalidTarget, Internal, InvalidMessage, InvalidCredentials, UnsupportedVersion,
}

var hints = map[Class]string{
	InvalidDeployKey:       "Regenerate the deploy key in the Convex dashboard (Settings → Deploy keys) and enter it again.",
	PermissionDenied:       "Check the key's permissions: it must be a production deploy key allowed to deploy.",
	TimedOut:               "Retry; if it keeps timing out, deploy by hand with the downloadable package.",
	SchemaValidationFailed: "The deployment rejected the package or its existing data; see the detail below.",
	Unreachable:            "Check the deployment URL (https://<name>.convex.cloud) and that the deployment is running.",
	ConcurrentPush:         "Another deploy to this deployment ran at the same time; retry when it is done.",
	InvalidTarget:          "Enter the deployment URL from the Convex dashboard and a production deploy key for it.",
	Internal:               "Retry; if it keeps failing, deploy by hand with the downloadable package.",
	InvalidMessage:         "The app sent a malformed request; see docs/messages.md.",
	InvalidCredentials:     "Enter the deployment URL and deploy key again.",
	UnsupportedVersion:     "Deploy a newer deployer image, then retry.",
}

// Hint returns what the user can do about a failure of class c; Internal's hint for a class
// not listed in Classes.
func (c Class) Hint() string {
	if h, ok := hints[c]; ok {
		return h
	}
	return hints[Internal]
}
