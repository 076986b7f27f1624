# comment only

# another
