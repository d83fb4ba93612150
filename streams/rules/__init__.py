"""Pure domain rules (recurrence and reminder maths, the filter language's parser, natural dates and quick add,
webhook and email rules): no Faust, no SQL, no I/O."""
