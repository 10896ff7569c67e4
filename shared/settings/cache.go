package settings

import (
	"fmt"
	"path/filepath"
)

// CompileCacheOff is the NODE_COMPILE_CACHE_DIR value that turns Node's compile cache off.
const CompileCacheOff = "off"

// DefaultCompileCache is Node's compile cache directory when NODE_COMPILE_CACHE_DIR is unset:
// byod-node-compile-cache under tmpDir, or under /tmp when tmpDir is not absolute, so warm Lambda
// invocations reuse what the previous deploy compiled.
func DefaultCompileCache(tmpDir string) string {
	if !filepath.IsAbs(tmpDir) {
		tmpDir = "/tmp"
	}
	return filepath.Join(tmpDir, "byod-node-compile-cache")
}

// CompileCacheDir resolves a NODE_COMPILE_CACHE_DIR setting into deploy.Engine.CompileCache: ""
// is DefaultCompileCache(tmpDir); CompileCacheOff is "" (no cache); any other value must be an
// absolute path. The error names the bad value. The deployer and `byod deploy` both use it.
func CompileCacheDir(setting, tmpDir string) (string, error) {
	switch {
	case setting == CompileCacheOff:
		return "", nil
	case setting == "":
		return DefaultCompileCache(tmpDir), nil
	case !filepath.IsAbs(setting):
		return "", fmt.Errorf("%s=%q is neither an absolute path nor %q", envCompileCache, setting, CompileCacheOff)
	default:
		return filepath.Clean(setting), nil
	}
}
