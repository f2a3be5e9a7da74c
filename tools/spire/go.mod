// Builds the real spire-server and spire-agent the end-to-end tests load our plugins into.
// SPIRE publishes no version list to the module proxy, so the version is pinned here and
// the binaries are built from this module's tool requirements.
module node-attestor.test/tools/spire

go 1.26.0

tool (
	github.com/spiffe/spire/cmd/spire-agent
	github.com/spiffe/spire/cmd/spire-server
)

require github.com/spiffe/spire v1.13.3
