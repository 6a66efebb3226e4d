// Command kubectl is the upstream kubectl of the pinned release, so the test bed never
// depends on the version skew of whatever kubectl the machine has.
// Mirrors k8s.io/kubernetes/cmd/kubectl/kubectl.go.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
