/* dashboard page: see templates/analytics/dashboard.html */
