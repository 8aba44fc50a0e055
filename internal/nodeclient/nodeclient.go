// Package nodeclient runs the protocol clients other people wrote (the npm
// SDKs of MCP, A2A and AG-UI) against newsroom in tests. scripts/test.sh
// installs them once into a cache folder, named by NEWSROOM_PROTOCOL_CLIENTS.
package nodeclient

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Dir is the folder whose node_modules holds the clients. Without it the
// test is skipped, or fails when CI=true.
func Dir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("NEWSROOM_PROTOCOL_CLIENTS")
	if dir == "" {
		home, _ := os.UserCacheDir()
		dir = filepath.Join(home, "newsroom", "protocol-clients-1")
	}
	_, errNode := exec.LookPath("node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk")); err != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the npm protocol clients are not installed in %s (scripts/test.sh installs them) or node is missing", dir)
		}
		t.Skipf("the npm protocol clients are not installed in %s: run scripts/test.sh once", dir)
	}
	return dir
}

// Run runs script (a file of testdata, as an ES module beside the clients)
// with args (in env when it is not nil, else in this process's
// environment) and decodes the one JSON document it prints into out.
func Run(t testing.TB, script string, out any, env []string, args ...string) {
	t.Helper()
	dir := Dir(t)
	work := t.TempDir()
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, filepath.Base(script)), src, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(work, "node_modules")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(work, filepath.Base(script))}, args...)...)
	cmd.Env = os.Environ()
	if env != nil { // only these, and the PATH to find node
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstderr:\n%s", filepath.Base(script), err, tail(stderr.Bytes()))
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("node %s printed %q: %v\nstderr:\n%s", filepath.Base(script), stdout.String(), err, tail(stderr.Bytes()))
	}
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}
