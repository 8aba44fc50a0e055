// Package entra signs newsroom in to Azure Database for PostgreSQL and Azure
// Cache for Redis with Microsoft Entra ID tokens instead of passwords: the
// servers the Azure template deploys accept nothing else.
//
// The token is the password. PostgreSQL checks it when a connection signs
// in, so each new connection asks the credential for one (pgx's
// BeforeConnect; azidentity caches the token and renews it before it
// expires). Azure Cache for Redis closes a connection whose token expires
// unless the client sends AUTH with a fresh one, so Redis connections
// subscribe to a streaming credentials provider (RedisCredentials) that
// fetches the next token before the current one expires and go-redis
// re-authenticates every open connection with it. Redis's user name is the
// identity's object id, read from the token's oid claim.
//
// Whether a URL signs in with Entra ID is a Mode: "entra", "password", or
// auto (empty): Entra ID when the URL carries no password and names an
// Azure host that needs it. Tokens never appear in logs or errors.
package entra

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Token scopes of the Azure services.
const (
	PostgresScope = "https://ossrdbms-aad.database.windows.net/.default"
	RedisScope    = "https://redis.azure.com/.default"
)

// Mode is how a connection signs in (NEWSROOM_DATABASE_AUTH,
// NEWSROOM_REDIS_AUTH).
type Mode string

// Modes.
const (
	// ModeAuto signs in with Entra ID when the URL has no password and its
	// host is an Azure service's (see postgresHosts and redisHosts).
	ModeAuto Mode = ""
	// ModePassword uses the URL's password (or none).
	ModePassword Mode = "password"
	// ModeEntra always signs in with an Entra ID token.
	ModeEntra Mode = "entra"
)

// ErrMode is returned by ParseMode for an unknown mode.
var ErrMode = errors.New("entra: unknown sign-in mode")

// ParseMode reads a mode setting; empty and "auto" are ModeAuto.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(strings.TrimSpace(s))); m {
	case ModeAuto, ModePassword, ModeEntra:
		return m, nil
	case "auto":
		return ModeAuto, nil
	}
	return "", fmt.Errorf("%w %q: want password, entra or auto", ErrMode, s)
}

// Host suffixes of the Azure services that take Entra ID tokens.
var (
	postgresHosts = []string{".postgres.database.azure.com"}
	redisHosts    = []string{".redis.cache.windows.net", ".redis.azure.net"}
)

// wanted resolves m for a connection to host with password (empty: none).
func (m Mode) wanted(host, password string, azureHosts []string) bool {
	switch m {
	case ModeEntra:
		return true
	case ModePassword:
		return false
	}
	if password != "" {
		return false
	}
	host = strings.ToLower(host)
	for _, s := range azureHosts {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// CredentialSource returns the credential tokens come from. Callers that
// have one pass it (Static); the zero value of the configs below uses
// DefaultCredential, built once, on first use.
type CredentialSource func() (azcore.TokenCredential, error)

// Static is a CredentialSource returning cred.
func Static(cred azcore.TokenCredential) CredentialSource {
	return func() (azcore.TokenCredential, error) { return cred, nil }
}

// DefaultCredential returns a source of azidentity's DefaultAzureCredential
// (on App Service: the managed identity named by AZURE_CLIENT_ID), built on
// first use and then shared, so its token cache is too.
func DefaultCredential() CredentialSource {
	return sync.OnceValues(func() (azcore.TokenCredential, error) {
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("entra: default Azure credential: %w", err)
		}
		return cred, nil
	})
}

func (s CredentialSource) get() (azcore.TokenCredential, error) {
	if s == nil {
		return DefaultCredential()()
	}
	return s()
}
