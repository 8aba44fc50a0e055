// Package aci holds the ARM template of one story as a job on Azure
// Container Instances (containergroup.json): `newsroom run` once, the task
// from a mounted file, the main deployment's identity, logs in Log
// Analytics. The package has no code; its tests check the template.
package aci
