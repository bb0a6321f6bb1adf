"""What GraphiQL opens with: the dashboard query partners start from.

It reaches the businesses through the caller's memberships, so it needs no business id
and works for any token.
"""

from __future__ import annotations

DASHBOARD_QUERY = """\
# Your businesses, their balance and latest invoices.
# Needs your token in the Headers tab below.
query Dashboard {
  viewer {
    id
    memberships {
      role
      business {
        id
        name
        defaultCurrency
        balance {
          available { amount currency formatted }
        }
        invoices(first: 5) {
          edges {
            node {
              id
              number
              status
              dueDate
              isOverdue
              total { amount currency formatted }
              amountDue { amount currency formatted }
              customer { name }
            }
          }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}
"""
