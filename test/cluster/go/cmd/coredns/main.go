// Command coredns is upstream CoreDNS with only the plugins the Gateway API conformance
// base manifests' Corefile uses, so the module graph stays small.
// Mirrors github.com/coredns/coredns/coredns.go, with core/plugin replaced by the list below.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/whoami"
	"github.com/coredns/coredns/coremain"
)

// The order in which plugins handle a query, as in upstream's plugin.cfg.
func init() { dnsserver.Directives = []string{"errors", "log", "forward", "whoami"} }

func main() { coremain.Run() }
