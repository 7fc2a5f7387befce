"""What the query modules share."""

# Bulk UPDATE/DELETE here never need the ORM to find and refresh loaded objects.
BULK = {"synchronize_session": False}
