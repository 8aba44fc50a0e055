// Package charttest renders the Helm chart deploy/helm/newsroom with Helm's
// Go SDK and decodes every object strictly into its Kubernetes API type. It
// is a module of its own, so Helm and the Kubernetes libraries stay out of
// the product's go.mod.
package charttest
