"""What a simulated shopper reads off a page: the CSRF token, order links, filter links.

Kept apart from the locustfile (which needs locust and gevent) so the tests can check these
patterns against the real templates: a template change that breaks the load test fails there.
"""

import re

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
ORDER_LINK = re.compile(r'href="(/history/orders/\d+/)"')
HISTORY_LINK = re.compile(r'href="(/history/\?[^"]+)"')
CATEGORY_OPTION = re.compile(r'<option value="(\d+)"')
NEXT_PAGE = 'rel="next"'
