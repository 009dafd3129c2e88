"""gunicorn settings read by `gunicorn -c gunicorn.conf.py wsgi:app` (workers and address on the command line)."""
# Request lines and headers up to gunicorn's own maxima reach the app, which answers an overlong query string
# with a JSON 414 in the API's error shape (see rewards.bounds); only beyond these does gunicorn answer itself.
limit_request_line = 8190
limit_request_field_size = 16380
