package deploy

import (
	"fmt"
	"path/filepath"
)

// CompileCacheOff is the NODE_COMPILE_CACHE_DIR value that turns Node's compile cache off.
const CompileCacheOff = "off"

// CompileCacheDir resolves the NODE_COMPILE_CACHE_DIR setting into Engine.CompileCache: "" is
// byod-node-compile-cache under tmpDir (under /tmp when tmpDir is not absolute), so warm Lambda
// invocations reuse what the previous deploy compiled; CompileCacheOff is "" (no cache); any other
// value must be an absolute path. The error names the bad value.
func CompileCacheDir(setting, tmpDir string) (string, error) {
	switch {
	case setting == CompileCacheOff:
		return "", nil
	case setting == "":
		if !filepath.IsAbs(tmpDir) {
			tmpDir = "/tmp"
		}
		return filepath.Join(tmpDir, "byod-node-compile-cache"), nil
	case !filepath.IsAbs(setting):
		return "", fmt.Errorf("NODE_COMPILE_CACHE_DIR=%q is neither an absolute path nor %q", setting, CompileCacheOff)
	default:
		return filepath.Clean(setting), nil
	}
}
