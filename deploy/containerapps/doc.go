// Package containerapps holds the ARM template that runs `newsroom serve` on
// Azure Container Apps (containerapp.json): always one replica or more, the
// main deployment's identity, Key Vault and PostgreSQL, and a KEDA
// azure-queue scale rule on the intake queue signed in with the identity.
// The package has no code; its tests check the template.
package containerapps
