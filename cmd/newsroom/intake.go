package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/intake/azurequeue"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/server"
)

// intakeFileEnv names the intake file of serve when --intake is not given.
const intakeFileEnv = "NEWSROOM_INTAKE_FILE"

func newIntakeCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "intake",
		Short: "Check and describe intake files (feeds, queues, webhooks that start runs)",
		Long: `An intake file lists the sources whose items start runs by themselves: RSS,
Atom and JSON feeds, Azure Storage queues and signed webhooks (Azure Event Grid
too). serve reads it from --intake or NEWSROOM_INTAKE_FILE; each item starts at
most one run.`,
		Example: `  newsroom intake validate intake.yaml
  newsroom intake schema > intake-file.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			writeHelp(cmd.ErrOrStderr(), cmd)
			return errUsage
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "teams-dir", "", "the desks of this directory may be named too")
	validate := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check intake files; print every problem as file:line:column",
		Args:  minArgs(1, "validate needs at least one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := loadRegistry(dir)
			if err != nil {
				return err
			}
			bad := false
			for _, path := range args {
				f, err := intake.LoadFile(path, intake.LoadOptions{Desks: r.Names()})
				if err != nil {
					bad = true
					fmt.Fprintln(cmd.ErrOrStderr(), strings.TrimPrefix(err.Error(), "intake: "))
					continue
				}
				kinds := map[string]int{}
				for _, s := range f.Sources {
					kinds[s.Kind()]++
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok: %d sources (%d feeds, %d queues, %d webhooks)\n",
					path, len(f.Sources), kinds["feed"], kinds["queue"], kinds["webhook"])
			}
			if bad {
				return fmt.Errorf("%w: invalid intake file", errConfig)
			}
			return nil
		},
	}
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of intake files (for editor completion)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(intake.Schema())
			return err
		},
	}
	cmd.AddCommand(validate, schema)
	return cmd
}

// loadIntake reads serve's intake file (path, else NEWSROOM_INTAKE_FILE);
// nil when neither names one. A bad file is a configuration error (exit 2).
func loadIntake(path string, desks []string) (*intake.File, error) {
	if path == "" {
		return nil, nil
	}
	f, err := intake.LoadFile(path, intake.LoadOptions{Desks: desks})
	var fe *intake.FileError
	switch {
	case errors.As(err, &fe):
		return nil, fmt.Errorf("%w: invalid intake file:\n%w", errConfig, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return f, nil
}

// intakeConfig wires an intake file into the service: feeds read with the
// fetch tools' guarded client, secrets from the environment or Key Vault,
// the daily budget as a cap.
func intakeConfig(f *intake.File, tools *toolSetup, stack *modelStack) *server.IntakeConfig {
	if f == nil {
		return nil
	}
	secret := secretResolver()
	return &server.IntakeConfig{
		File:       f,
		HTTPClient: tools.Fetcher.Client(),
		Secret:     secret,
		Queues: func(ctx context.Context, src *intake.Source) (intake.QueueClient, error) {
			return azureQueue(ctx, src, secret)
		},
		BudgetLeft: func(context.Context) bool {
			return stack.Daily == nil || stack.Daily.Spent() < stack.Daily.Budget()
		},
	}
}

// azureQueue opens a queue source's Azure Storage queue: its connection
// string (a secret reference) or its account URL with DefaultAzureCredential
// (a managed identity in Azure).
func azureQueue(ctx context.Context, src *intake.Source, secret func(context.Context, string) (string, error)) (intake.QueueClient, error) {
	cfg := azurequeue.Config{Account: src.Queue.Account, Queue: src.Queue.Name}
	if src.Queue.ConnectionString != "" {
		v, err := secret(ctx, src.Queue.ConnectionString)
		if err != nil {
			return nil, fmt.Errorf("intake source %s: connection string: %w", src.Name, err)
		}
		cfg.ConnectionString = v
	} else {
		cred, err := provider.DefaultCredential(nil)
		if err != nil {
			return nil, fmt.Errorf("intake source %s: %w", src.Name, err)
		}
		cfg.Credential = cred
	}
	return azurequeue.New(cfg)
}

// secretResolver resolves the intake file's secret references: env:VAR from
// the environment, keyvault://VAULT/SECRET from Key Vault (the Azure
// credential made at the first such reference).
func secretResolver() func(ctx context.Context, ref string) (string, error) {
	kv := &lazyResolver{}
	return func(ctx context.Context, ref string) (string, error) {
		if name, ok := strings.CutPrefix(ref, "env:"); ok {
			v, set := os.LookupEnv(name)
			if !set {
				return "", fmt.Errorf("the environment variable %s is not set", name)
			}
			return v, nil
		}
		return kv.Resolve(ctx, ref)
	}
}
