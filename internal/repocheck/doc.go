// Package repocheck holds tests of the repository itself (what git tracks),
// not of any package's code.
package repocheck
