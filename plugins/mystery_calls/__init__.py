"""Mystery calls: test calls as a customer, on demand, from plugins and on schedules."""
