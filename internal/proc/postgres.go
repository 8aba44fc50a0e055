package proc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresReadyTimeout bounds how long StartPostgres waits for the server.
const PostgresReadyTimeout = 30 * time.Second

// pgBinDirs are where Debian's postgresql packages put the server binaries.
var pgBinDirs = []string{"/usr/lib/postgresql/*/bin"}

// Postgres is a PostgreSQL server started by StartPostgres.
type Postgres struct {
	// DSN is the URL of its "postgres" database (user postgres, trust
	// authentication, 127.0.0.1).
	DSN string
	// Version is its server_version_num, e.g. 160004.
	Version int

	cmd *exec.Cmd
}

// Stop stops the server (SIGTERM, then SIGKILL after grace) and waits for it.
func (p *Postgres) Stop(grace time.Duration) { Stop(p.cmd, grace) }

// PostgresOptions adjust the server StartPostgresWith starts.
type PostgresOptions struct {
	// HBA lines go before the pg_hba.conf rules initdb writes (trust for
	// everyone), so they win for the connections they match.
	HBA []string
}

// StartPostgres initialises a throwaway cluster in dir (which must exist and
// be empty) and starts PostgreSQL on a free loopback port, without
// durability (fsync off: the data lives as long as the caller).
//
// As root, initdb and postgres run as the postgres OS user (PostgreSQL
// refuses to run as root): the child gets that user's credentials directly,
// not through runuser or su, so the process-group kill and the parent-death
// signal reach the postmaster itself.
func StartPostgres(ctx context.Context, dir string) (*Postgres, error) {
	return StartPostgresWith(ctx, dir, PostgresOptions{})
}

// StartPostgresWith is StartPostgres with opts applied to the new cluster.
func StartPostgresWith(ctx context.Context, dir string, opts PostgresOptions) (*Postgres, error) {
	var bins [2]string
	for i, name := range []string{"initdb", "postgres"} {
		p, ok := lookPGBinary(name)
		if !ok {
			return nil, fmt.Errorf("proc: %s not found in %v or PATH (apt-get install postgresql)", name, pgBinDirs)
		}
		bins[i] = p
	}
	initdb, postgres := bins[0], bins[1]

	cred, owner, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, fmt.Errorf("proc: %w", err)
		}
	}
	if owner != nil {
		for _, d := range []string{dir, data, sock} {
			if err := os.Chown(d, owner.uid, owner.gid); err != nil {
				return nil, fmt.Errorf("proc: chown %s to postgres: %w", d, err)
			}
		}
	}

	initCmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale",
		"--no-sync", "--no-instructions")
	initCmd.Dir = dir
	initCmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := initCmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("proc: initdb: %w\n%s", err, tail(out))
	}
	if len(opts.HBA) > 0 {
		hba := filepath.Join(data, "pg_hba.conf")
		rules, err := os.ReadFile(hba)
		if err != nil {
			return nil, fmt.Errorf("proc: %w", err)
		}
		rules = append([]byte(strings.Join(opts.HBA, "\n")+"\n"), rules...)
		if err := os.WriteFile(hba, rules, 0o600); err != nil {
			return nil, fmt.Errorf("proc: %w", err)
		}
	}

	var lastErr error
	for range 3 { // a free port can be taken between FreePort and bind
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		logPath := filepath.Join(dir, fmt.Sprintf("postgres-%d.log", port))
		logFile, err := os.Create(logPath)
		if err != nil {
			return nil, fmt.Errorf("proc: %w", err)
		}
		// fsync=off: the server's data lives as long as its caller, so
		// flushing it to disk buys nothing and makes each CREATE DATABASE
		// cost a second under load. Commit durability is measured on SQLite
		// (and by a real deployment), not on this throwaway server.
		cmd := exec.Command(postgres, "-D", data, "-p", strconv.Itoa(port), "-k", sock,
			"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=32MB",
			"-c", "fsync=off", "-c", "full_page_writes=off")
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logFile.Close()
		if err != nil {
			return nil, fmt.Errorf("proc: start postgres: %w", err)
		}
		dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		var version int
		if version, lastErr = waitPostgres(ctx, dsn, cmd.Process.Pid, PostgresReadyTimeout); lastErr == nil {
			return &Postgres{DSN: dsn, Version: version, cmd: cmd}, nil
		}
		log, _ := os.ReadFile(logPath)
		lastErr = fmt.Errorf("%w\n%s", lastErr, tail(log))
		Stop(cmd, 0)
	}
	return nil, lastErr
}

// lookPGBinary prefers the versioned Debian directory: PATH often has only
// the client wrappers (pg_ctlcluster), not initdb and postgres.
func lookPGBinary(name string) (string, bool) {
	for _, pat := range pgBinDirs {
		if p, ok := LookBinary(name, pat); ok && strings.HasPrefix(p, "/usr/lib/postgresql/") {
			return p, true
		}
	}
	return LookBinary(name)
}

// LookBinary finds a server binary on PATH or in the extra directories (glob
// patterns allowed; the last match in lexical order, the newest version, wins).
func LookBinary(name string, extra ...string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, pat := range extra {
		matches, _ := filepath.Glob(filepath.Join(pat, name))
		for i := len(matches) - 1; i >= 0; i-- {
			if fi, err := os.Stat(matches[i]); err == nil && !fi.IsDir() {
				return matches[i], true
			}
		}
	}
	return "", false
}

type pgOwner struct{ uid, gid int }

// postgresCredential returns the credential to run the server with: nil when
// not root, the postgres user's when root.
func postgresCredential() (*syscall.Credential, *pgOwner, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("proc: running as root and no postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("proc: postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, &pgOwner{uid, gid}, nil
}

// waitPostgres polls until the server answers a query, the process has
// exited, or the timeout passes, and returns the server's version number.
func waitPostgres(ctx context.Context, dsn string, pid int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if exited(pid) {
			return 0, errors.New("proc: postgres exited during start-up")
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		var (
			conn    *pgx.Conn
			version int
		)
		if conn, err = pgx.Connect(qctx, dsn); err == nil {
			err = conn.QueryRow(qctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
			conn.Close(qctx)
		}
		cancel()
		if err == nil {
			return version, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("proc: postgres not ready after %s: %w", timeout, errors.Join(err, ctx.Err()))
}

// exited reports whether the child pid is a zombie or gone; whoever stops
// the server owns Wait, so this only looks.
func exited(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the parenthesised command name: "pid (comm) S ...".
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X'
}

func tail(b []byte) string {
	const n = 2000
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
