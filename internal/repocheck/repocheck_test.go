package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxTrackedBytes is the largest file the repository may carry: a compiled
// binary or a data dump is larger and belongs to a build or a release.
const maxTrackedBytes = 5 << 20

// TestNoTrackedFileOver5MB fails when git tracks a file larger than 5 MB.
func TestNoTrackedFileOver5MB(t *testing.T) {
	t.Parallel()
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git rev-parse: %v (CI needs a git checkout)", err)
		}
		t.Skipf("not a git checkout (or no git): %v", err)
	}
	root := strings.TrimSpace(string(top))
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := bytes.Split(bytes.TrimRight(out, "\x00"), []byte{0})
	if len(files) < 10 {
		t.Fatalf("git lists only %d files", len(files))
	}
	for _, f := range files {
		st, err := os.Lstat(filepath.Join(root, string(f)))
		if err != nil {
			continue // deleted in the working tree, not yet committed
		}
		if st.Size() > maxTrackedBytes {
			t.Errorf("%s is %.1f MB, over the 5 MB limit for tracked files (build outputs belong in .gitignore)", f, float64(st.Size())/(1<<20))
		}
	}
}
