"""Pure domain rules (recurrence and reminder maths, the filter language's parser, webhook and email rules): no
Faust, no SQL, no I/O."""
