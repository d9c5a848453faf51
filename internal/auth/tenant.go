package auth

import "fmt"

// ValidateTenant checks that name matches [a-z0-9][a-z0-9._-]{0,62}; the
// error wraps ErrInvalidTenant.
func ValidateTenant(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty", ErrInvalidTenant)
	}
	if len(name) > 63 {
		return fmt.Errorf("%w %q: longer than 63 characters", ErrInvalidTenant, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("%w %q: want lowercase letters, digits, '.', '_' and '-', starting with a letter or digit", ErrInvalidTenant, name)
		}
	}
	return nil
}
