package all

import (
	"testing"

	"github.com/sluice-sql/sluice/connector"
	"github.com/sluice-sql/sluice/secret"
)

// TestDeclaredSecretsAreMasked: Sluice masks and seals by one rule
// (secret.MaskValue); every option a connector declares secret falls
// under it, and no option the rule takes for a secret is declared
// otherwise without being one.
func TestDeclaredSecretsAreMasked(t *testing.T) {
	for _, c := range connector.All() {
		for _, o := range c.Options {
			if o.Secret != secret.IsSecretName(o.Name) {
				t.Errorf("%s option %s: declared secret %v, but the masking rule says %v", c.Name, o.Name, o.Secret, secret.IsSecretName(o.Name))
			}
		}
	}
}
