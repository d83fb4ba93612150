"""Request validation: pure functions that return clean values or raise ValidationError (400), naming the field."""
