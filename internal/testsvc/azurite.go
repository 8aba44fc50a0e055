package testsvc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AzuriteEnv names the azurite-queue executable (scripts/test.sh installs
// the npm package azurite and sets it); without it PATH and the test
// script's cache folder are searched.
const AzuriteEnv = "NEWSROOM_AZURITE_QUEUE"

// AzuriteAccount and AzuriteKey are Azurite's well-known development
// account (public; it signs requests to the emulator only).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

var (
	azuriteOnce sync.Once
	azuriteConn string
	azuriteErr  error
)

// AzuriteQueues returns the connection string of the Azure Storage queue
// emulator (Azurite's queue service) started for this test binary on a free
// loopback port. Tests share it: each uses queues of its own names.
func AzuriteQueues(t testing.TB) string {
	t.Helper()
	azuriteOnce.Do(func() { azuriteConn, azuriteErr = startAzurite() })
	if azuriteErr != nil {
		SkipOrFail(t, "azurite: %v", azuriteErr)
	}
	return azuriteConn
}

func azuriteBinary() (string, bool) {
	if p := os.Getenv(AzuriteEnv); p != "" {
		return p, true
	}
	cache, _ := os.UserCacheDir()
	return LookBinary("azurite-queue", filepath.Join(cache, "newsroom", "azurite-*", "node_modules", ".bin"))
}

func startAzurite() (string, error) {
	bin, ok := azuriteBinary()
	if !ok {
		return "", fmt.Errorf("azurite-queue not found (set %s or run scripts/test.sh, which installs the npm package azurite)", AzuriteEnv)
	}
	dir, err := os.MkdirTemp("", "testsvc-azurite-")
	if err != nil {
		return "", err
	}
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	c := exec.Command(bin, "--queueHost", "127.0.0.1", "--queuePort", strconv.Itoa(port), "--location", dir,
		"--skipApiVersionCheck", "--silent")
	c.Dir = dir
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // proc.Stop signals the group
	if err := c.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	track(c, dir)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	if err := WaitTCP(addr, 30*time.Second); err != nil {
		return "", fmt.Errorf("azurite-queue did not listen on %s: %w", addr, err)
	}
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;QueueEndpoint=http://%s/%s;",
		AzuriteAccount, AzuriteKey, addr, AzuriteAccount), nil
}
