package settings

import "testing"

func TestCompileCacheDir(t *testing.T) {
	for _, tc := range []struct{ setting, tmp, want, err string }{
		{"", "/tmp", "/tmp/byod-node-compile-cache", ""},
		{"", "/scratch/", "/scratch/byod-node-compile-cache", ""},
		{"", "relative", "/tmp/byod-node-compile-cache", ""},
		{"/var/cc/", "/tmp", "/var/cc", ""},
		{CompileCacheOff, "/tmp", "", ""},
		{"cache", "/tmp", "", `NODE_COMPILE_CACHE_DIR="cache" is neither an absolute path nor "off"`},
	} {
		got, err := CompileCacheDir(tc.setting, tc.tmp)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("CompileCacheDir(%q, %q) = %q, %v; want %q, %q", tc.setting, tc.tmp, got, err, tc.want, tc.err)
		}
	}
}
