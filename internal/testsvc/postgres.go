package testsvc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/newsroom-dev/newsroom/internal/proc"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresReadyTimeout bounds how long Postgres waits for a started server.
const PostgresReadyTimeout = 30 * time.Second

// pgBinDirs are where Debian's postgresql packages put the server binaries.
var pgBinDirs = []string{"/usr/lib/postgresql/*/bin"}

var (
	pgOnce    sync.Once
	pgAdmin   string // DSN of the server's "postgres" database
	pgVersion int    // server_version_num
	pgErr     error
)

// Postgres returns the DSN of a new, empty database on a PostgreSQL server
// started once per test binary (initdb into a temporary directory, listening
// on 127.0.0.1 on a free port, trust authentication, user postgres). The
// database is dropped when the test ends; the server is stopped by Main (call
// testsvc.Main from the package's TestMain) and, should the test binary die
// first, by the kernel (parent-death signal).
//
// As root, initdb and postgres run as the postgres OS user (PostgreSQL
// refuses to run as root): the child is started with that user's
// credentials directly, not through runuser or su, so the process-group kill
// and the parent-death signal reach the postmaster itself.
//
// When the binaries are missing or the server does not start, the test is
// skipped (failed when CI=true).
func Postgres(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() { pgAdmin, pgVersion, pgErr = startPostgres() })
	if pgErr != nil {
		SkipOrFail(t, "postgres: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgAdmin)
	if err != nil {
		t.Fatalf("testsvc: connect to the test postgres: %v", err)
	}
	defer conn.Close(context.Background())
	name := "t_" + strings.ToLower(rand.Text())
	create := "CREATE DATABASE " + name
	if pgVersion >= 150000 {
		// With fsync off, copying template1's files beats WAL-logging every
		// block (the 15+ default) several times over.
		create += " STRATEGY FILE_COPY"
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		t.Fatalf("testsvc: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// After the test's own cleanups (registered later, run earlier) closed
		// their pools; FORCE ends any connection still open.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, pgAdmin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	})
	return strings.Replace(pgAdmin, "/postgres?", "/"+name+"?", 1)
}

func startPostgres() (dsn string, version int, err error) {
	var bins [2]string
	for i, name := range []string{"initdb", "postgres"} {
		p, ok := lookPGBinary(name)
		if !ok {
			return "", 0, fmt.Errorf("%s not found in %v or PATH (apt-get install postgresql)", name, pgBinDirs)
		}
		bins[i] = p
	}
	initdb, postgres := bins[0], bins[1]

	cred, owner, err := postgresCredential()
	if err != nil {
		return "", 0, err
	}
	dir, err := os.MkdirTemp("", "testsvc-postgres-")
	if err != nil {
		return "", 0, err
	}
	track(nil, dir)
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", 0, err
		}
	}
	if owner != nil {
		for _, d := range []string{dir, data, sock} {
			if err := os.Chown(d, owner.uid, owner.gid); err != nil {
				return "", 0, fmt.Errorf("chown %s to postgres: %w", d, err)
			}
		}
	}

	initCmd := exec.Command(initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale",
		"--no-sync", "--no-instructions")
	initCmd.Dir = dir
	initCmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if out, err := initCmd.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("initdb: %w\n%s", err, tail(out))
	}
	// Members of PostgresPasswordGroup must give their password over TCP
	// (the first matching line wins); everyone else is trusted.
	hba := filepath.Join(data, "pg_hba.conf")
	rules, err := os.ReadFile(hba)
	if err != nil {
		return "", 0, err
	}
	rules = append([]byte("host all +"+PostgresPasswordGroup+" 127.0.0.1/32 scram-sha-256\n"), rules...)
	if err := os.WriteFile(hba, rules, 0o600); err != nil {
		return "", 0, err
	}

	var lastErr error
	for range 3 { // a free port can be taken between FreePort and bind
		port, err := FreePort()
		if err != nil {
			return "", 0, err
		}
		logPath := filepath.Join(dir, fmt.Sprintf("postgres-%d.log", port))
		logFile, err := os.Create(logPath)
		if err != nil {
			return "", 0, err
		}
		// fsync=off: the server's data lives as long as the test binary, so
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
			return "", 0, fmt.Errorf("start postgres: %w", err)
		}
		track(cmd, "")
		dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		var version int
		if version, lastErr = waitPostgres(dsn, cmd.Process.Pid, PostgresReadyTimeout); lastErr == nil {
			if lastErr = createPasswordGroup(dsn); lastErr == nil {
				return dsn, version, nil
			}
		}
		log, _ := os.ReadFile(logPath)
		lastErr = fmt.Errorf("%w\n%s", lastErr, tail(log))
		proc.Stop(cmd, 0)
	}
	return "", 0, lastErr
}

func lookPGBinary(name string) (string, bool) {
	// Prefer the versioned Debian directory: PATH often has only the client
	// wrappers (pg_ctlcluster), not initdb and postgres.
	for _, pat := range pgBinDirs {
		if p, ok := LookBinary(name, pat); ok && strings.HasPrefix(p, "/usr/lib/postgresql/") {
			return p, true
		}
	}
	return LookBinary(name)
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
		return nil, nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("postgres user: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, &pgOwner{uid, gid}, nil
}

// waitPostgres polls until the server answers a query, the process has
// exited, or the timeout passes, and returns the server's version number.
func waitPostgres(dsn string, pid int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if exited(pid) {
			return 0, errors.New("postgres exited during start-up")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var (
			conn    *pgx.Conn
			version int
		)
		if conn, err = pgx.Connect(ctx, dsn); err == nil {
			err = conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return version, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("postgres not ready after %s: %w", timeout, err)
}

// PostgresPasswordGroup is the role whose members the test server asks for
// a password (SCRAM): tests of password or token sign-in create their login
// role in it with PostgresPasswordRole.
const PostgresPasswordGroup = "newsroom_password"

func createPasswordGroup(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE ROLE "+PostgresPasswordGroup+" NOLOGIN")
	return err
}

// PostgresPasswordRole creates a login role with password in
// PostgresPasswordGroup, so the server checks the password, and returns the
// DSN of dsn's database (a Postgres DSN) for that role without a password;
// the role may create tables there. The role is dropped when the test ends.
func PostgresPasswordRole(t testing.TB, dsn, password string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), PostgresReadyTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("testsvc: connect to the test postgres: %v", err)
	}
	defer conn.Close(context.Background())
	role := "r_" + strings.ToLower(rand.Text())
	// CREATE ROLE takes no parameters: quote the password as a literal.
	lit := "'" + strings.ReplaceAll(password, "'", "''") + "'"
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN PASSWORD "+lit+" IN ROLE "+PostgresPasswordGroup); err != nil {
		t.Fatalf("testsvc: create role: %v", err)
	}
	if _, err := conn.Exec(ctx, "GRANT ALL ON SCHEMA public TO "+role); err != nil {
		t.Fatalf("testsvc: grant: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
			_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+role)
			conn.Close(ctx)
		}
	})
	return strings.Replace(dsn, "postgres://postgres@", "postgres://"+role+"@", 1)
}

// exited reports whether the child pid is a zombie or gone; Main's StopAll
// owns Wait, so this only looks.
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
