// Package azure holds newsroom's Azure deployment: the ARM template (azuredeploy.json), its
// parameters file and deploy.sh. The package has no code of its own; its tests check the
// template, the deploy script, the repository's Dockerfile and the CI workflow, since no Azure
// subscription or container engine is available where the tests run.
package azure
