package entra

import (
	"context"
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PostgresConfig parses a PostgreSQL URL (or key=value DSN) into a pool
// configuration and, when mode resolves to Entra ID, makes every new
// connection sign in with a token for PostgresScope as its password. The
// user is the URL's (the managed identity's role name on Azure). Errors
// never include the URL: pgx's parse errors can echo it.
func PostgresConfig(url string, mode Mode, cred CredentialSource) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("entra: cannot parse the database URL")
	}
	if !mode.wanted(cfg.ConnConfig.Host, cfg.ConnConfig.Password, postgresHosts) {
		return cfg, nil
	}
	c, err := cred.get()
	if err != nil {
		return nil, err
	}
	cfg.BeforeConnect = PostgresBeforeConnect(c)
	return cfg, nil
}

// PostgresBeforeConnect returns a pgx BeforeConnect hook that sets the
// connection's password to a token of cred. Use it for connections made
// outside a pool too (pgx.ConnectConfig after calling it on a copy).
func PostgresBeforeConnect(cred azcore.TokenCredential) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, cc *pgx.ConnConfig) error {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{PostgresScope}})
		if err != nil {
			return fmt.Errorf("entra: PostgreSQL sign-in token: %w", err)
		}
		cc.Password = tok.Token
		return nil
	}
}
