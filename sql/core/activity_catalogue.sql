-- The known activities, their family and their rank: the order of events that share a timestamp
-- (process order: a lead is converted before its opportunity is created, a payment is received
-- before the invoice is paid). An activity model may emit others; they sort last (rank 999).
-- columns:
-- activity: activity name as it appears in core.event_log
-- family: the activity family (lead, opportunity, stage, quote, approval, contract, order, billing, touch)
-- activity_rank: tie-break order for events with the same timestamp in one case
-- description: what the activity means and where it comes from
-- status_column: the entity column whose changes the activity is read from (e.g. quotes.status), if any
SELECT * FROM (VALUES
    ('Lead Created', 'lead', 1, 'Lead captured (Lead.CreatedDate)', NULL),
    ('Call', 'touch', 2, 'Completed call task', NULL),
    ('Email', 'touch', 3, 'Completed email task', NULL),
    ('Meeting', 'touch', 4, 'Meeting held (Event.StartDateTime)', NULL),
    ('Lead Status Changed', 'lead', 5, 'Lead status changed (LeadHistory)', 'leads.status'),
    ('Lead Disqualified', 'lead', 6, 'Lead status set to Closed - Not Converted', 'leads.status'),
    ('Lead Converted', 'lead', 7, 'Lead converted (LeadHistory leadConverted)', NULL),
    ('Opportunity Created', 'opportunity', 8, 'Opportunity created (at conversion or by hand)', NULL),
    ('Owner Changed', 'opportunity', 9, 'Opportunity owner changed', NULL),
    ('Stage: Prospecting', 'stage', 10, 'Stage changed to Prospecting', 'opportunities.stage'),
    ('Stage: Qualification', 'stage', 11, 'Stage changed to Qualification', 'opportunities.stage'),
    ('Stage: Needs Analysis', 'stage', 12, 'Stage changed to Needs Analysis', 'opportunities.stage'),
    ('Stage: Value Proposition', 'stage', 13, 'Stage changed to Value Proposition', 'opportunities.stage'),
    ('Stage: Proposal/Price Quote', 'stage', 14, 'Stage changed to Proposal/Price Quote', 'opportunities.stage'),
    ('Stage: Negotiation/Review', 'stage', 15, 'Stage changed to Negotiation/Review', 'opportunities.stage'),
    ('Close Date Pushed', 'opportunity', 16, 'Close date moved later', NULL),
    ('Amount Reduced', 'opportunity', 17, 'Opportunity amount lowered', NULL),
    ('Quote Created', 'quote', 18, 'Quote (version) created', NULL),
    ('Discount Approval Requested', 'approval', 19, 'Quote submitted for discount approval', NULL),
    ('Discount Approved', 'approval', 20, 'Discount approved by the approver', NULL),
    ('Discount Rejected', 'approval', 21, 'Discount rejected by the approver', NULL),
    ('Quote Presented', 'quote', 22, 'Quote presented to the customer', 'quotes.status'),
    ('Quote Accepted', 'quote', 23, 'Customer accepted the quote', 'quotes.status'),
    ('Quote Rejected', 'quote', 24, 'Customer rejected (denied) the quote', 'quotes.status'),
    ('Contract Created', 'contract', 25, 'Contract drafted', NULL),
    ('Contract Signed', 'contract', 26, 'Customer signed the contract', NULL),
    ('Opportunity Closed Won', 'stage', 27, 'Stage changed to Closed Won', 'opportunities.stage'),
    ('Opportunity Closed Lost', 'stage', 28, 'Stage changed to Closed Lost', 'opportunities.stage'),
    ('Contract Activated', 'contract', 29, 'Contract activated', NULL),
    ('Order Created', 'order', 30, 'Sales order created', NULL),
    ('Order Activated', 'order', 31, 'Sales order activated', NULL),
    ('Order Amended', 'order', 32, 'Reduction order correcting an order', NULL),
    ('Order Fulfilled', 'order', 33, 'Order fulfilled / service delivered', 'orders.status'),
    ('Invoice Posted', 'billing', 34, 'Invoice posted', NULL),
    ('Invoice Sent', 'billing', 35, 'Invoice sent to the customer', NULL),
    ('Payment Received', 'billing', 36, 'Payment received against an invoice', NULL),
    ('Invoice Paid', 'billing', 37, 'Invoice fully paid', 'invoices.payment_status'),
    ('Payment Reversed', 'billing', 38, 'Payment taken off an invoice again (refund, charge-back or correction)', NULL)
) AS catalogue(activity, family, activity_rank, description, status_column)
