package emutest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/proc"
)

// childEnv carries a child emulator's configuration (JSON) to the re-executed
// test binary.
const childEnv = "NEWSROOM_EMUTEST_CHILD"

// ChildConfig configures an emulator process started by StartProcess.
type ChildConfig struct {
	// ModelName is the model the answers name; empty means the default.
	ModelName string `json:"model_name,omitempty"`
	// TTFT and TPS are the answer timing.
	TTFT time.Duration `json:"ttft,omitempty"`
	TPS  float64       `json:"tps,omitempty"`
	// RPM and TPM are the emulator's own quota (0: unlimited).
	RPM int `json:"rpm,omitempty"`
	TPM int `json:"tpm,omitempty"`
}

// RunChildIfAsked must be the first statement of a TestMain that uses
// StartProcess: in a test binary re-executed as an emulator process it serves
// until SIGTERM and exits; otherwise it returns at once.
func RunChildIfAsked() {
	spec, ok := os.LookupEnv(childEnv)
	if !ok {
		return
	}
	var cc ChildConfig
	if err := json.Unmarshal([]byte(spec), &cc); err != nil {
		fmt.Fprintln(os.Stderr, "emutest child:", err)
		os.Exit(2)
	}
	run, err := emulator.Start(emulator.Config{APIKey: Key, ModelName: cc.ModelName,
		Latency:     emulator.Latency{TimeToFirstToken: cc.TTFT, TokensPerSecond: cc.TPS},
		Quota:       emulator.Quota{RequestsPerMinute: cc.RPM, TokensPerMinute: cc.TPM},
		MaxRecorded: -1}, emulator.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "emutest child:", err)
		os.Exit(1)
	}
	fmt.Println(run.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	_ = run.Close()
	os.Exit(0)
}

// Process is an emulator running in a process of its own.
type Process struct {
	// URL is its Azure endpoint.
	URL string
	cmd *exec.Cmd
}

// StartProcess starts an emulator in a child process (this test binary,
// re-executed; see RunChildIfAsked) and stops it when the test ends. It
// requires the API key Key.
func StartProcess(t testing.TB, cc ChildConfig) *Process {
	t.Helper()
	spec, err := json.Marshal(cc)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Start(cmd); err != nil {
		t.Fatalf("start emulator process: %v", err)
	}
	t.Cleanup(func() { proc.Stop(cmd, 5*time.Second) })
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		if s.Scan() {
			line <- strings.TrimSpace(s.Text())
		}
		close(line)
	}()
	select {
	case u, ok := <-line:
		if !ok || !strings.HasPrefix(u, "http") {
			t.Fatalf("emulator process printed no URL (%q)", u)
		}
		return &Process{URL: u, cmd: cmd}
	case <-time.After(30 * time.Second):
		t.Fatal("emulator process did not start within 30s")
	}
	return nil
}

// Force sets (or with emulator.FaultNone clears) the fault the process
// gives every chat request.
func (p *Process) Force(t testing.TB, f emulator.ForcedFault) {
	t.Helper()
	if err := Force(p.URL, Key, f); err != nil {
		t.Fatal(err)
	}
}

// Force sets the forced fault of the emulator at url (any process).
func Force(url, key string, f emulator.ForcedFault) error {
	body, _ := json.Marshal(f)
	req, err := http.NewRequest(http.MethodPost, url+emulator.ControlPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("api-key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("emutest: forcing %q: %w", f.Fault, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("emutest: forcing %q: status %s", f.Fault, resp.Status)
	}
	return nil
}

// Kill stops the process at once (SIGKILL), like a region going away.
func (p *Process) Kill() { _ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) }
