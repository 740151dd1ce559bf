package secret

import (
	"regexp"
	"strings"
)

// Masked replaces a secret wherever Sluice shows an option value.
const Masked = "****"

// EnvPrefix marks an option value that names an environment variable: the
// reference is not the secret and is shown as it is.
const EnvPrefix = "env:"

// secretWords mark a name whose value is a secret.
var secretWords = []string{"password", "passwd", "secret", "token", "credential"}

// IsSecretName reports whether an option (or a DSN parameter) of this name
// holds a secret: its name contains password, passwd, secret, token or
// credential, is pwd, or ends in key (api_key, access_key) without being
// key itself — Kafka's key option names the column that keys each record.
// Only the last dot-separated part counts, so datagen's
// fields.<column>.<setting> is judged by its setting, not by its column.
func IsSecretName(name string) bool {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return name == "pwd" || name != "key" && strings.HasSuffix(name, "key")
}

// userinfoRE finds the password of a URL's user info: scheme://user:pass@.
// The user info ends at the last @ before the path, query or fragment.
var userinfoRE = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/?#\s]*:)([^?#\s]*)@`)

// paramRE finds name=value pairs: DSN query parameters (?password=…&),
// libpq key=value lists (host=h password='a b') and ;-separated
// connection strings (Password=…;). A value is single-quoted (with \'
// or ” inside) or runs to the next space, &, ; or #.
var paramRE = regexp.MustCompile(`(^|[\s?&;,(])([A-Za-z_][A-Za-z0-9_.-]*)(\s*=\s*)('(?:[^'\\]|\\.|'')*'|[^\s&;#]*)`)

// MaskText hides every secret written inside text: the password of a URL's
// user info, and the value of every name=value pair whose name is a secret
// name (IsSecretName). It is the rule for values whose option name is not a
// secret name (a url, a dsn) and for free text such as error messages.
func MaskText(text string) string {
	if !strings.Contains(text, "=") && !strings.Contains(text, "@") {
		return text
	}
	out := userinfoRE.ReplaceAllStringFunc(text, func(m string) string {
		sub := userinfoRE.FindStringSubmatch(m)
		if sub[2] == "" {
			return m
		}
		return sub[1] + Masked + "@"
	})
	return paramRE.ReplaceAllStringFunc(out, func(m string) string {
		sub := paramRE.FindStringSubmatch(m)
		if !IsSecretName(sub[2]) || sub[4] == "" || sub[4] == Masked {
			return m
		}
		return sub[1] + sub[2] + sub[3] + Masked
	})
}

// MaskValue returns the value of option name as Sluice may show it, in
// answers, logs, SHOW, DESCRIBE and EXPLAIN — the one masking rule of
// Sluice:
//   - an env:NAME reference is shown as it is;
//   - any other non-empty value of a secret name (IsSecretName) is Masked;
//   - a sealed value is opened (with the process key) and masked by these
//     rules, or Masked when it does not open;
//   - any other value has the secrets written inside it masked (MaskText):
//     a URL's password, DSN parameters such as password or token, libpq's
//     password=….
func MaskValue(name, value string) string {
	switch {
	case value == "" || strings.HasPrefix(value, EnvPrefix):
		return value
	case IsSecretName(name):
		return Masked
	case IsSealed(value):
		clear, err := Open(value)
		if err != nil || IsSealed(clear) {
			return Masked
		}
		return MaskValue(name, clear)
	}
	return MaskText(value)
}

// InClear reports whether value, given for option name, holds a secret in
// clear text — what must be sealed before a catalog stores it: a
// non-empty value of a secret name, or a value with a secret inside
// (MaskText changes it). env: references and sealed values are not clear.
func InClear(name, value string) bool {
	if value == "" || strings.HasPrefix(value, EnvPrefix) || IsSealed(value) {
		return false
	}
	return IsSecretName(name) || MaskText(value) != value
}

// MaskOptions returns opts with every value masked by MaskValue.
func MaskOptions(opts map[string]string) map[string]string {
	if opts == nil {
		return nil
	}
	out := make(map[string]string, len(opts))
	for k, v := range opts {
		out[k] = MaskValue(k, v)
	}
	return out
}
