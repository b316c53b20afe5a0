-- The known activities, their family and their rank: the order of events that share a timestamp
-- (process order: a lead is converted before its opportunity is created, a payment is received
-- before the invoice is paid). An activity model may emit others; they sort last (rank 999).
-- columns:
-- activity: activity name as it appears in core.event_log
-- family: the activity family (lead, opportunity, stage, quote, approval, contract, order, billing, touch)
-- activity_rank: tie-break order for events with the same timestamp in one case
-- description: what the activity means and where it comes from
SELECT * FROM (VALUES
    ('Lead Created', 'lead', 1, 'Lead captured (Lead.CreatedDate)'),
    ('Call', 'touch', 2, 'Completed call task'),
    ('Email', 'touch', 3, 'Completed email task'),
    ('Meeting', 'touch', 4, 'Meeting held (Event.StartDateTime)'),
    ('Lead Status Changed', 'lead', 5, 'Lead status changed (LeadHistory)'),
    ('Lead Disqualified', 'lead', 6, 'Lead status set to Closed - Not Converted'),
    ('Lead Converted', 'lead', 7, 'Lead converted (LeadHistory leadConverted)'),
    ('Opportunity Created', 'opportunity', 8, 'Opportunity created (at conversion or by hand)'),
    ('Owner Changed', 'opportunity', 9, 'Opportunity owner changed'),
    ('Stage: Prospecting', 'stage', 10, 'Stage changed to Prospecting'),
    ('Stage: Qualification', 'stage', 11, 'Stage changed to Qualification'),
    ('Stage: Needs Analysis', 'stage', 12, 'Stage changed to Needs Analysis'),
    ('Stage: Value Proposition', 'stage', 13, 'Stage changed to Value Proposition'),
    ('Stage: Proposal/Price Quote', 'stage', 14, 'Stage changed to Proposal/Price Quote'),
    ('Stage: Negotiation/Review', 'stage', 15, 'Stage changed to Negotiation/Review'),
    ('Close Date Pushed', 'opportunity', 16, 'Close date moved later'),
    ('Amount Reduced', 'opportunity', 17, 'Opportunity amount lowered'),
    ('Quote Created', 'quote', 18, 'Quote (version) created'),
    ('Discount Approval Requested', 'approval', 19, 'Quote submitted for discount approval'),
    ('Discount Approved', 'approval', 20, 'Discount approved by the approver'),
    ('Discount Rejected', 'approval', 21, 'Discount rejected by the approver'),
    ('Quote Presented', 'quote', 22, 'Quote presented to the customer'),
    ('Quote Accepted', 'quote', 23, 'Customer accepted the quote'),
    ('Quote Rejected', 'quote', 24, 'Customer rejected (denied) the quote'),
    ('Contract Created', 'contract', 25, 'Contract drafted'),
    ('Contract Signed', 'contract', 26, 'Customer signed the contract'),
    ('Opportunity Closed Won', 'stage', 27, 'Stage changed to Closed Won'),
    ('Opportunity Closed Lost', 'stage', 28, 'Stage changed to Closed Lost'),
    ('Contract Activated', 'contract', 29, 'Contract activated'),
    ('Order Created', 'order', 30, 'Sales order created'),
    ('Order Activated', 'order', 31, 'Sales order activated'),
    ('Order Amended', 'order', 32, 'Reduction order correcting an order'),
    ('Order Fulfilled', 'order', 33, 'Order fulfilled / service delivered'),
    ('Invoice Posted', 'billing', 34, 'Invoice posted'),
    ('Invoice Sent', 'billing', 35, 'Invoice sent to the customer'),
    ('Payment Received', 'billing', 36, 'Payment received against an invoice'),
    ('Invoice Paid', 'billing', 37, 'Invoice fully paid')
) AS catalogue(activity, family, activity_rank, description)
